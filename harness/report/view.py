"""The report's view model, built from the run directory's tables only (never from a backend).

Everything the HTML, the Markdown and the recommendation show comes from here, with a reason
attached to every value that is missing, so no page ever says NaN or leaves a blank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.config.models import TIER_ORDER
from harness.config.suite import Constraints
from harness.meters.contention import CONTENDED_SHARE
from harness.meters.latency import summarize
from harness.metrics import REQUEST_COLUMNS
from harness.report.formatting import clean, fmt_range, row_fields, text
from harness.report.loadnotes import session_notes
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, P95_E2E, P95_TTFT, primary_metric
from harness.report.samples import SamplePage, read_samples
from harness.results import RunStore
from harness.results.columns import CELL_COLUMNS, range_columns
from harness.results.measure import cell_rows
from harness.results.memoryfigure import MemoryFigure, judged_memory
from harness.results.published import PublishedComparison, compare_published
from harness.results.schema import PROJECTED, CellStatus, RunMeta
from harness.results.values import error_mask, measured_requests, warmup_mask
from harness.stats import mean_of_scores, score_standard_error, statistic_interval

if TYPE_CHECKING:
    from harness.report.projections import ProjectionRow

CAVEAT_WHAT: dict[str, str] = {
    CellStatus.FAILED: "failed",
    CellStatus.SKIPPED: "was skipped",
    CellStatus.DOES_NOT_FIT: "does not fit the profile",
}
# why a figure is missing, for each status of a cell that did not run
STATUS_WHY: dict[str, str] = {
    CellStatus.FAILED: "cell failed",
    CellStatus.SKIPPED: "cell skipped",
    CellStatus.DOES_NOT_FIT: "does not fit the profile",
}


def not_run_why(status: str) -> str:
    """Why a metric of a cell that did not run is missing."""
    return STATUS_WHY.get(status, f"cell {status}")


def _missing(cell: dict[str, Any], why: str) -> Estimate:
    """A missing figure: a cell that did not run says so before any other reason."""
    return Estimate(None, missing=STATUS_WHY.get(cell["status"], why))


@dataclass(frozen=True)
class Estimate:
    """A value with an optional 95% interval, or the reason it is missing."""

    value: float | None
    low: float | None = None
    high: float | None = None
    missing: str = ""

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass
class CellView:
    model: str
    tier: str
    backend: str
    profile: str
    status: str
    reason: str
    emulated_on: str
    energy_source: str
    metrics: dict[str, Estimate]
    numbers: dict[str, float | None] = field(default_factory=dict)
    tasks_scored: int = 0
    tasks_total: int = 0
    items: int = 0
    fit: bool | None = None
    fit_reason: str = ""
    cost_basis: str = ""
    projected_from: str = ""
    quant_label: str = ""  # a quantization rung's type, bits per weight and source (catalog labels)
    native_fallback: str = ""  # native kernels turned off because they crashed on this machine, and why
    retried_after: str = ""  # the worker crash after which the cell ran again with the safest settings

    # what the peak-memory metric holds: GPU memory for a cell that ran on a GPU, else host RSS
    # (harness.results.memoryfigure); host RSS stays in numbers["peak_rss_mb"]
    memory_label: str = "host RSS"
    memory_on_gpu: bool = False

    @property
    def native_notes(self) -> list[str]:
        """What the cell's figures owe to native-crash safety: kernels turned off, a retry after a crash."""
        notes = [f"{self.label}: {self.native_fallback}."] if self.native_fallback else []
        if self.retried_after:
            notes.append(
                f"{self.label} ran again with the safest settings after its worker crashed ({self.retried_after})."
            )
        return notes

    @property
    def ran(self) -> bool:
        return self.status in (CellStatus.OK, PROJECTED)

    @property
    def label(self) -> str:
        return f"{self.model} on {self.profile}"

    def get(self, key: str) -> Estimate:
        return self.metrics.get(key, Estimate(None, missing="not measured"))


@dataclass(frozen=True)
class TaskScore:
    model: str
    tier: str
    profile: str
    task: str
    metric: str
    value: float | None
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    status: str
    reason: str
    primary: bool


@dataclass(frozen=True)
class LatencyRow:
    model: str
    profile: str
    scenario: str
    point: str
    metric: str
    stats: dict[str, float | None]
    errors: int
    warmups: int


@dataclass(frozen=True)
class Caveat:
    """One line of the report's caveats, tagged with its kind (cell, energy, projected, ...)."""

    kind: str
    text: str


@dataclass
class RunView:
    run_dir: Path
    meta: RunMeta
    suite_name: str
    constraints: Constraints
    constraints_note: str
    profiles: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    cells: list[CellView]
    scores: list[TaskScore]
    latency: list[LatencyRow]
    samples: SamplePage
    caveats: list[Caveat]
    tasks: list[str]
    requests: pd.DataFrame
    cell_columns: list[str]
    load: list[dict[str, Any]] = field(default_factory=list)
    session_notes: list[str] = field(default_factory=list)  # later turns' TTFT against a cold prompt
    projections: list[ProjectionRow] = field(default_factory=list)
    # the authors' published scores beside ours (harness.results.published)
    published: list[PublishedComparison] = field(default_factory=list)

    def cell(self, model: str, profile: str) -> CellView | None:
        return next((c for c in self.cells if c.model == model and c.profile == profile), None)


# -- meta ---------------------------------------------------------------------------------------
def _constraints(meta: RunMeta) -> tuple[Constraints, str]:
    """The constraints the run used (suite file merged with flags) and a note saying where each came from."""
    raw = meta.suite.get("constraints")
    if not isinstance(raw, dict):
        return Constraints(), "none set (no accuracy floor, latency SLO or memory budget)"
    try:
        parsed = Constraints.model_validate(raw)
    except ValidationError as exc:
        return Constraints(), f"ignored: meta.json constraints are invalid ({exc.errors()[0]['msg']})"
    from_cli = sorted(meta.options.constraints.given())
    if from_cli:
        return parsed, f"from the suite file; set on the command line: {', '.join(from_cli)}"
    return parsed, "from the suite file"


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(v.get("name", i)): v for i, v in enumerate(records)}


# -- tables -------------------------------------------------------------------------------------
def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False, name=None)]


def _score_rows(scores: pd.DataFrame, tiers: dict[str, str]) -> list[TaskScore]:
    rows: list[TaskScore] = []
    if scores.empty:
        return rows
    primaries: dict[tuple[str, str, str], str | None] = {}
    for (model, profile, task), group in scores.groupby(["model", "profile", "task"], sort=False):
        ok = group[group["status"] == "ok"]["metric"].map(text).tolist()
        primaries[(str(model), str(profile), str(task))] = primary_metric(ok or group["metric"].map(text).tolist())
    for r in _records(scores):
        row = row_fields(TaskScore, r)  # the text fields and value, stderr, ci_low, ci_high
        key = (row["model"], row["profile"], row["task"])
        row.update(tier=tiers.get(key[0], ""), status=row["status"] or "ok")
        n = clean(r.get("n"))
        rows.append(TaskScore(**row, n=None if n is None else int(n), primary=primaries.get(key) == row["metric"]))
    return rows


def _accuracy(cell: dict[str, Any], scores: list[TaskScore], n_tasks_suite: int) -> tuple[Estimate, int, int, int]:
    """Mean of each task's primary metric; its CI combines the tasks' standard errors."""
    mine = [s for s in scores if s.model == cell["model"] and s.profile == cell["profile"] and s.primary]
    ok = [s for s in mine if s.status == "ok" and s.value is not None]
    total = max(len({s.task for s in mine}), n_tasks_suite)
    items = sum(s.n or 0 for s in ok)
    if not ok:
        if not mine:
            why = "no accuracy tasks ran" if n_tasks_suite == 0 else "no task scores recorded"
        else:
            why = "; ".join(sorted({f"{s.task}: {s.status} ({s.reason or 'no reason given'})" for s in mine}))
        return _missing(cell, why), 0, total, 0
    values = [float(s.value) for s in ok if s.value is not None]
    ses = [score_standard_error(s.stderr, s.ci_low, s.ci_high, s.value, s.n) for s in ok]
    return Estimate(*mean_of_scores(values, ses)), len(ok), total, items


def _latency_estimate(
    cell: dict[str, Any], all_requests: pd.DataFrame, measured: pd.DataFrame, column: str
) -> Estimate:
    mine_all = cell_rows(all_requests, cell["model"], cell["profile"])
    if mine_all.empty:
        return _missing(cell, "no performance scenario ran for this cell")
    mine = cell_rows(measured, cell["model"], cell["profile"])
    values = mine[column].map(clean).dropna().to_numpy(dtype=float) if column in mine else np.array([])
    if values.size == 0:
        errors = mine_all["error"].map(text) if "error" in mine_all else pd.Series(dtype=str)
        errors = errors[errors != ""]
        if not errors.empty:
            return Estimate(None, missing=f"all {len(errors)} measured requests failed: {errors.iloc[0][:120]}")
        return Estimate(None, missing=f"no {column} recorded")
    p95 = float(np.percentile(values, 95))
    ci = statistic_interval(values, "p95", iterations=500, seed=len(values))
    return Estimate(p95, *(ci or (None, None)))


def _plain(cell: dict[str, Any], column: str, present: bool, absent_why: str) -> Estimate:
    if not present:
        return Estimate(None, missing=absent_why)
    value = clean(cell.get(column))
    return _missing(cell, "not recorded for this cell") if value is None else Estimate(value)


def _memory(cell: dict[str, Any], figure: MemoryFigure, present: bool) -> Estimate:
    """The peak-memory metric: GPU memory for a cell that ran on a GPU (what must fit there), else host RSS."""
    if figure.on_gpu and figure.mb is not None:
        return Estimate(figure.mb)
    return _plain(cell, "peak_rss_mb", present, "memory not measured by this run")


def _no_requests(cell: dict[str, Any]) -> bool:
    return not clean(cell.get("n_requests"))


def _energy(cell: dict[str, Any], present: bool) -> Estimate:
    source = text(cell.get("energy_source"))
    if not present:
        return Estimate(None, missing="energy per request not computed by this run")
    value = clean(cell.get("energy_per_request_j"))
    if value is None:
        if source in ("", "none"):
            return _missing(cell, "no energy sensor and no power model for this profile")
        if _no_requests(cell):
            return _missing(cell, "no successful perf requests to divide the energy by")
        return _missing(cell, "energy per request not derived for this cell")
    _, low, high = (clean(cell.get(c)) for c in range_columns("energy_per_request_j"))
    if low is not None and high is not None:
        return Estimate(value, low, high)
    total, low, high = (clean(cell.get(c)) for c in range_columns("energy_j"))
    if total and low is not None and high is not None:
        # a per-request figure carries the cell's relative range
        return Estimate(value, value * low / total, value * high / total)
    return Estimate(value)


def _cost(cell: dict[str, Any], present: bool) -> Estimate:
    if not present:
        return Estimate(None, missing="cost not computed by this run")
    value = clean(cell.get(COST.key))
    if value is not None:
        return Estimate(value)
    if _no_requests(cell):
        return _missing(cell, "no successful perf requests to cost")
    return _missing(cell, "no API price for the model and no cost model for the profile")


def repetition_spread(group: pd.DataFrame) -> dict[str, float | None]:
    """Spread of the median E2E between repetitions of a point: (max - min) / median of the
    repetitions' medians, the largest over the cell's points; None with a single repetition."""
    if "repetition" not in group.columns or group["e2e_s"].dropna().empty:
        return {"e2e_s_rep_spread": None, "repetitions": 1}
    spreads: list[float] = []
    most = 1
    for _, point in group.groupby(["scenario", "point"], sort=False):
        medians = point.groupby("repetition")["e2e_s"].median().dropna()
        most = max(most, len(medians))
        if len(medians) > 1 and float(medians.median()) > 0:
            spreads.append(float((medians.max() - medians.min()) / medians.median()))
    return {"e2e_s_rep_spread": max(spreads) if spreads else None, "repetitions": float(most)}


def fit_verdict(fit: str) -> bool | None:
    """fitcost's verdict (fits, does_not_fit or unknown), for measured and projected cells alike."""
    return {"fits": True, "does_not_fit": False}.get(fit)


def _cells(
    cells: pd.DataFrame, requests: pd.DataFrame, measured: pd.DataFrame, scores: list[TaskScore], n_tasks: int
) -> list[CellView]:
    cols = set(cells.columns)
    out: list[CellView] = []
    for r in _records(cells):
        r["model"], r["profile"] = text(r.get("model")), text(r.get("profile"))
        r["status"] = text(r.get("status")) or "ok"
        acc, scored, total, items = _accuracy(r, scores, n_tasks)
        figure = judged_memory(r)
        metrics = {
            ACCURACY.key: acc,
            P95_E2E.key: _latency_estimate(r, requests, measured, "e2e_s"),
            P95_TTFT.key: _latency_estimate(r, requests, measured, "ttft_s"),
            MEMORY.key: _memory(r, figure, "peak_rss_mb" in cols),
            ENERGY.key: _energy(r, "energy_per_request_j" in cols),
            COST.key: _cost(r, COST.key in cols),
        }
        strings = row_fields(CellView, r)  # its text fields; model, profile and status were normalized above
        # every other cells-table column read as a number: None where it is missing or not a number
        numbers = {k: clean(r.get(k)) for k in CELL_COLUMNS if k not in strings}
        if not measured.empty and "cell_id" in measured.columns:
            numbers.update(repetition_spread(measured[measured["cell_id"] == r.get("cell_id")]))
        strings["energy_source"] = strings["energy_source"] or "none"
        strings["memory_label"] = figure.label
        out.append(
            CellView(
                **strings,
                metrics=metrics,
                numbers=numbers,
                tasks_scored=scored,
                tasks_total=total,
                items=items,
                fit=fit_verdict(text(r.get("fit"))),
                memory_on_gpu=figure.on_gpu,
            )
        )
    out.sort(key=lambda c: (c.profile, TIER_ORDER.get(c.tier, 9), c.model))
    return out


def _latency_rows(requests: pd.DataFrame, measured: pd.DataFrame) -> list[LatencyRow]:
    rows: list[LatencyRow] = []
    if requests.empty:
        return rows
    keys = ["model", "profile", "scenario", "point"]
    frame = requests.copy()
    for key in keys:
        frame[key] = frame[key].map(text) if key in frame else ""
    frame["_ok"] = frame.index.isin(measured.index)
    for (model, profile, scenario, point), group in frame.groupby(keys, sort=True):
        ok = group[group["_ok"]]
        warm, errs = int(warmup_mask(group).sum()), int(error_mask(group).sum())
        for metric in (m for m in REQUEST_COLUMNS if m in ok):
            summary = summarize(ok[metric].map(clean).tolist())
            stats = {k: clean(v) for k, v in summary.items()}
            rows.append(LatencyRow(str(model), str(profile), str(scenario), str(point), metric, stats, errs, warm))
    return rows


def _host_caveats(c: CellView) -> list[Caveat]:
    """Threads used vs cores seen, and what other processes took of those cores while it ran."""
    share, cores, threads = (c.numbers.get(k) for k in ("host_other_cpu_share", "cores_seen", "threads"))
    if share is None or cores is None or not c.ran:
        return []
    steal = c.numbers.get("host_steal_share")
    steal_text = f", steal {steal:.0%}" if steal else ""
    used = f"{int(threads)} thread(s) on {int(cores)} core(s) seen" if threads is not None else f"{int(cores)} core(s)"
    if share > CONTENDED_SHARE:
        text = (
            f"{c.label} ran contended: other processes took {share:.0%} of its cores{steal_text} "
            f"(limit {CONTENDED_SHARE:.0%}; {used}); its latency and throughput are not the model's. "
            "Rerun with tierbench run --quiet-host."
        )
        return [Caveat("contended", text)]
    return [Caveat("host", f"{c.label}: {used}; other processes took {share:.0%} of them{steal_text}.")]


def concurrency_notes(c: CellView) -> list[str]:
    """At what concurrency the cell's evaluation ran, and what the endpoint throttled (report and terminal)."""
    notes: list[str] = []
    in_flight, throttled = c.numbers.get("eval_concurrency_used"), c.numbers.get("throttled_requests")
    if in_flight is not None and in_flight > 1:
        notes.append(
            f"{c.label} was evaluated with up to {int(in_flight)} requests in flight: "
            "per-item latency is under concurrent load (each item's own request time, not a batch's)."
        )
    if throttled:
        notes.append(
            f"The endpoint throttled {int(throttled)} evaluation request(s) of {c.label} (HTTP 429/503): "
            "each was waited out and retried, none scored as a wrong answer; fewer were sent at once after it."
        )
    return notes


def _caveats(view_cells: list[CellView], scores: list[TaskScore], samples: SamplePage, cols: set[str]) -> list[Caveat]:
    notes: list[Caveat] = []
    emulated: set[str] = set()
    for c in view_cells:
        if c.status != CellStatus.OK:
            what = CAVEAT_WHAT.get(c.status, c.status)
            notes.append(Caveat("cell", f"{c.label} {what}: {c.reason or 'no reason recorded'}."))
        if c.emulated_on and c.profile not in emulated:
            emulated.add(c.profile)
            notes.append(
                Caveat(
                    "emulated",
                    f"{c.profile} was emulated on {c.emulated_on} (thread and memory caps): "
                    "its latency and energy are not native figures of that device.",
                )
            )
        if c.energy_source == "estimate" and c.numbers.get("energy_j") is not None:
            low, high = c.numbers.get("energy_j_low"), c.numbers.get("energy_j_high")
            span = f" (range {fmt_range(low, high, 'joules')})" if low is not None and high is not None else ""
            notes.append(
                Caveat(
                    "energy",
                    f"Energy of {c.label} is estimated from the profile's power model{span}, not measured.",
                )
            )
        notes.extend(_host_caveats(c))
        notes.extend(Caveat("concurrency", line) for line in concurrency_notes(c))
        notes.extend(Caveat("native", line) for line in c.native_notes)
        spread, reps = c.numbers.get("e2e_s_rep_spread"), c.numbers.get("repetitions")
        if spread is not None and reps:
            notes.append(
                Caveat(
                    "repetitions",
                    f"Median E2E of {c.label} varied by {spread:.1%} between its {int(reps)} repetitions "
                    "(largest over its points): the spread between runs, beside the interval within one.",
                )
            )
        errors = c.numbers.get("n_errors")
        if errors:
            notes.append(Caveat("requests", f"{int(errors)} request(s) of {c.label} failed and are excluded."))
    for s in scores:
        if s.status != "ok" and s.primary:
            notes.append(
                Caveat(
                    "task",
                    f"Task {s.task} is {s.status} for {s.model} on {s.profile}: {s.reason or 'no reason recorded'}.",
                )
            )
    for column, why in (
        ("cost_per_1k_requests_usd", "Cost per request was not computed by this run."),
        ("energy_per_request_j", "Energy per request was not computed by this run."),
    ):
        if column not in cols:
            notes.append(Caveat("data", why))
    if samples.torn_lines:
        notes.append(Caveat("data", f"{samples.torn_lines} unreadable line(s) in samples.jsonl were skipped."))
    return notes


def build_view(run_dir: Path) -> RunView:
    """Read a run directory into the view model."""
    store = RunStore.open(run_dir)
    meta = store.read_meta()
    constraints, note = _constraints(meta)
    models = _by_name(meta.models)
    profiles = _by_name(meta.profiles)
    cells_df = store.read_table("cells")
    requests = store.read_table("requests")
    scores_df = store.read_table("scores")
    tiers = {text(r["model"]): text(r.get("tier")) for r in _records(cells_df)}
    tiers.update({k: text(v.get("tier")) for k, v in models.items() if text(v.get("tier"))})
    scores = _score_rows(scores_df, tiers)
    suite_tasks = (
        meta.options.tasks if meta.options.tasks is not None else [text(t) for t in meta.suite.get("tasks") or []]
    )
    tasks = list(dict.fromkeys(suite_tasks + [s.task for s in scores]))
    measured = measured_requests(requests)
    cells = _cells(cells_df, requests, measured, scores, len(suite_tasks))
    samples = read_samples(store.layout.samples)
    from harness.report.projections import caveats as projection_caveats
    from harness.report.projections import projection_rows

    projections = projection_rows(store.read_table("projections"))
    caveats = _caveats(cells, scores, samples, set(cells_df.columns))
    caveats += [Caveat("projected", body) for body in projection_caveats(projections)]
    load = [
        {k: (None if clean(v) is None and not isinstance(v, str | bool | np.bool_) else v) for k, v in row.items()}
        for row in _records(store.read_table("load"))
    ]
    return RunView(
        run_dir=run_dir,
        meta=meta,
        suite_name=text(meta.suite.get("name")) or run_dir.name,
        constraints=constraints,
        constraints_note=note,
        profiles=profiles,
        models=models,
        cells=cells,
        scores=scores,
        latency=_latency_rows(requests, measured),
        samples=samples,
        caveats=caveats,
        tasks=tasks,
        requests=measured,
        cell_columns=list(cells_df.columns),
        load=load,
        session_notes=session_notes(load),
        published=compare_published(meta.model_dump(mode="json"), scores_df),
        projections=projections,
    )
