"""Apply gate rules to a run and its baseline: one verdict per rule and matching cell.

A relative rule fails only when the change is significant at the configured level *and* its whole
confidence interval lies beyond the tolerance (a non-inferiority test that the run fails); floors and
ceilings compare the run's point value. ``not_applicable`` is a cell that cannot meet the rule by
construction (a live cascade's decode rate exists only on its escalated requests) and never fails.

A speed rule between runs whose hardware fingerprints differ, or are unknown, is ``not_comparable``
with the difference named (harness/gate/hardware.py) and fails only under ``other_hardware: fail``;
``normalize: roofline`` judges it on figures divided by each run's host calibration (gate/normalize.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pandas as pd

from harness.config.rules import GateRule, GateRules, MetricInfo, StatSettings
from harness.errors import UserError
from harness.gate.hardware import HardwareComparison, compare_hosts
from harness.gate.normalize import factor_text, normalize_cell
from harness.meters.contention import CONTENDED_SHARE
from harness.results.measure import Change, Measure, cell_rows, measure_accuracy, measure_cell, measure_requests
from harness.results.schema import CellStatus
from harness.results.snapshot import Snapshot
from harness.results.values import finite_or_none

# how a request metric of one cell is measured: the gate's unpaired bootstrap, or ab's paired blocks
RequestMeasure = Callable[[MetricInfo, Snapshot, Snapshot, str, str, StatSettings], Measure]

# in the order a headline counts them
Verdict = Literal["regressed", "not_comparable", "inconclusive", "improved", "no_significant_change", "not_applicable"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


@dataclass
class RuleResult:
    """The verdict of one rule on one cell, with what it rests on."""

    rule: GateRule
    index: int  # 1-based position in the rules file
    tier: str
    model: str
    profile: str
    verdict: Verdict
    reason: str
    measure: Measure = field(default_factory=Measure)
    # a timing verdict withheld because a neighbour took the cell's cores, or the load client sent late: reported, never failing
    contended: bool = False
    # a timing verdict withheld because the two runs measured on different (or unknown) hardware
    other_hardware: bool = False

    @property
    def name(self) -> str:
        return f"{self.rule.label} [{self.tier}: {self.model}@{self.profile}]"

    @property
    def info(self) -> MetricInfo:
        return self.rule.info


@dataclass
class GateReport:
    """Every verdict of one gate run and whether it passes."""

    run_source: str
    baseline_source: str
    settings: GateRules
    results: list[RuleResult]
    warnings: list[str] = field(default_factory=list)

    def fails(self, result: RuleResult) -> bool:
        if result.contended:
            return False
        if result.other_hardware:
            return self.settings.other_hardware == "fail"
        if result.verdict in ("regressed", "not_comparable"):
            return True
        return result.verdict == "inconclusive" and self.settings.on_inconclusive == "fail"

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if self.fails(r)]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for r in self.results if r.verdict == v) for v in VERDICTS}


def _is_ok(status: object) -> bool:
    return status == CellStatus.OK


def _select_cells(rule: GateRule, where: str, run: Snapshot) -> pd.DataFrame:
    """Run cells the rule addresses; a selector naming nothing in the run is a user error."""
    cells = run.cells
    for key in ("tier", "model", "profile"):
        wanted = getattr(rule, key)
        if wanted is None:
            continue
        have = sorted(set(cells[key].dropna().astype(str)))
        if wanted not in have:
            scope = " tier" if key == "model" and rule.tier else ""
            listed = f"{'run has' if key == 'tier' else 'have'}: {', '.join(have) or 'none'}"
            raise UserError(f"{where}: {key} '{wanted}' is not in the run{scope} ({listed})")
        cells = cells[cells[key].astype(str) == wanted]
    if cells.empty:
        raise UserError(f"{where}: matches no cell of the run (cells: {', '.join(run.cell_names()) or 'none'})")
    return cells


def _check_metric_present(rule: GateRule, where: str, run: Snapshot, base: Snapshot) -> None:
    """A metric that neither run has at all is a mistake in the rules, not a verdict."""
    info = rule.info
    if info.source == "items" and info.task is not None:
        tasks = set(run.items["task"].astype(str)) | set(base.items["task"].astype(str))
        if info.task not in tasks:
            raise UserError(
                f"{where}: task '{info.task}' is in neither the run nor the baseline (tasks: {', '.join(sorted(tasks)) or 'none'})"
            )
    if info.source == "requests" and run.requests.empty and base.requests.empty:
        raise UserError(
            f"{where}: {info.name} needs perf requests, but neither run has any (add a scenario to the suite)"
        )
    if info.source == "cells":
        columns = set(run.cells.columns) | set(base.cells.columns)
        derivable = info.column == "energy_per_request_j" and {"energy_j", "n_requests"} <= columns
        if info.column not in columns and not derivable:
            raise UserError(f"{where}: neither the run nor the baseline has a '{info.column}' column in cells.parquet")


def format_value(value: float, info: MetricInfo) -> str:
    """A metric value in its unit (accuracy as a percentage), for reasons and every output format."""
    if info.is_accuracy:
        return f"{value * 100:.1f}%"
    if math.isinf(value):
        return "inf"
    digits = 4 if abs(value) < 0.01 else 3 if abs(value) < 10 else 1
    return f"{value:.{digits}f}{(' ' + info.unit) if info.unit else ''}"


def change_text(change: Change, info: MetricInfo, level: float) -> str:
    """``-12.5 pts (95% CI -20.0 to -5.0)`` or ``+8.1% (95% CI +2.0% to +14.3%)``."""
    pct = round(level * 100)
    if info.is_accuracy:
        return f"{change.diff * 100:+.1f} pts ({pct}% CI {change.diff_low * 100:+.1f} to {change.diff_high * 100:+.1f})"
    if not math.isfinite(change.ratio):
        return f"{change.diff:+.4g} {info.unit}".rstrip()
    middle = (change.ratio - 1) * 100
    low, high = (change.ratio_low - 1) * 100, (change.ratio_high - 1) * 100
    if change.p_value is None and low == high:
        return f"{middle:+.1f}%"
    label = f"{pct}% CI" if change.p_value is not None else "range"
    return f"{middle:+.1f}% ({label} {low:+.1f}% to {high:+.1f}%)"


def _tolerance_bounds(rule: GateRule, change: Change) -> tuple[float, float, str]:
    """(low, high) of the change's interval in the tolerance's unit, plus the tolerance as text."""
    if rule.tolerance is None:
        return change.diff_low, change.diff_high, ""
    kind, value = rule.tolerance
    if kind == "points":
        return change.diff_low * 100, change.diff_high * 100, f"{value:g} pts"
    if kind == "pct":
        return (change.ratio_low - 1) * 100, (change.ratio_high - 1) * 100, f"{value:g}%"
    unit = f" {rule.info.unit}" if rule.info.unit else ""
    return change.diff_low, change.diff_high, f"{value:g}{unit}"


def _p_text(change: Change, settings: GateRules) -> str:
    """``, McNemar (mid-p) p=0.012``; a bootstrap p of zero is shown as below its resolution."""
    if change.p_value is None:
        return ""
    if change.p_value == 0 and "bootstrap" in change.test:
        return f", {change.test} p<{1 / settings.bootstrap_iterations:.1g}"
    return f", {change.test} p={change.p_value:.3g}"


def judge(rule: GateRule, m: Measure, settings: GateRules) -> tuple[Verdict, str]:
    """The verdict of one measure against one rule, and a one-line reason."""
    info = rule.info
    if m.failure:
        return "regressed", m.failure
    if m.not_applicable:
        return "not_applicable", m.not_applicable
    if m.inconclusive:
        return "inconclusive", m.inconclusive
    breaches = []
    if m.run_value is not None:
        shown = format_value(m.run_value, info)
        if rule.floor is not None and m.run_value < rule.floor:
            breaches.append(f"{shown} is below the floor {format_value(rule.floor, info)}")
        if rule.ceiling is not None and m.run_value > rule.ceiling:
            breaches.append(f"{shown} is above the ceiling {format_value(rule.ceiling, info)}")
    if m.not_comparable:
        if breaches:
            return "regressed", "; ".join(breaches) + f" (baseline not comparable: {m.not_comparable})"
        return "not_comparable", m.not_comparable
    change = m.change
    if change is None or m.base_value is None:
        return ("regressed", "; ".join(breaches)) if breaches else ("inconclusive", "no change could be estimated")
    text = change_text(change, info, settings.level)
    significant = change.p_value is None or change.p_value < settings.significance
    p_text = _p_text(change, settings)
    low, high, tol_text = _tolerance_bounds(rule, change)
    # the interval turned so that a positive change is a worse one, whichever way the metric points
    worse_low, worse_high = (-high, -low) if info.direction == "higher" else (low, high)
    tolerance = rule.tolerance
    if tolerance is not None and significant and worse_low > tolerance[1]:
        breaches.append(f"changed {text}{p_text}: beyond the {tol_text} tolerance")
    if breaches:
        return "regressed", "; ".join(breaches)
    # one measurement: only a change beyond the tolerance counts as an improvement
    margin = 0.0 if change.p_value is not None else tolerance[1] if tolerance is not None else math.inf
    if significant and worse_high < -margin:
        return "improved", f"changed {text}{p_text}"
    if change.p_value is None and tolerance is not None:  # one measurement: no "significantly worse"
        return "no_significant_change", f"changed {text}, within the {tol_text} tolerance"
    if worse_low > 0 and significant:
        within = f"the {tol_text} tolerance" if tolerance is not None else "the rule's floor/ceiling"
        return "no_significant_change", f"changed {text}{p_text}: worse, but within {within}"
    beyond = f"; not shown to exceed the {tol_text} tolerance" if tolerance is not None else ""
    return "no_significant_change", f"changed {text}{p_text}{beyond}"


@dataclass(frozen=True)
class _Job:
    """What every rule of one gate run is judged with (``requests`` and ``interleaved``: see ``evaluate``)."""

    run: Snapshot
    base: Snapshot
    settings: GateRules
    hardware: HardwareComparison
    requests: RequestMeasure
    interleaved: bool


def _measure(rule: GateRule, job: _Job, run: Snapshot, base: Snapshot, row: pd.Series, base_row: pd.Series) -> Measure:
    info = rule.info
    if info.source == "cells":
        return measure_cell(info, run, base, row, base_row)
    measure = measure_accuracy if info.source == "items" else job.requests
    return measure(info, run, base, str(row["model"]), str(row["profile"]), job.settings)


def _measure_normalized(rule: GateRule, job: _Job, row: pd.Series, base_row: pd.Series) -> Measure:
    """The rule's figure divided by each run's own roofline; the raw change goes into the notes."""
    info, model, profile = rule.info, str(row["model"]), str(row["profile"])
    run_n, base_n = normalize_cell(info, job.run, model, profile), normalize_cell(info, job.base, model, profile)
    raw = _measure(rule, job, job.run, job.base, row, base_row)
    if isinstance(run_n, str) or isinstance(base_n, str):
        raw.inconclusive = f"normalize: roofline asked for, but {run_n if isinstance(run_n, str) else base_n}"
        raw.change = None
        return raw
    run_row, base_row_n = (cell_rows(n.snapshot.cells, model, profile).iloc[0] for n in (run_n, base_n))
    measure = _measure(rule, job, run_n.snapshot, base_n.snapshot, run_row, base_row_n)
    measure.notes.append(factor_text(info, run_n.factor, base_n.factor))
    if raw.change is not None and raw.base_value is not None and raw.run_value is not None:
        measure.notes.append(
            f"raw figures: baseline {format_value(raw.base_value, info)}, run {format_value(raw.run_value, info)}, "
            f"changed {change_text(raw.change, info, job.settings.level)}"
        )
    return measure


def _cell_problem(row: pd.Series, base_row: pd.Series | None, base: Snapshot) -> tuple[Verdict, str] | None:
    """Why a run cell is judged without its metric: it was skipped or broke, or has no healthy baseline twin."""
    model, profile, tier, status = str(row["model"]), str(row["profile"]), str(row["tier"]), row["status"]
    reason = row.get("reason")
    reason = reason if isinstance(reason, str) else ""
    if str(status) == "skipped":
        why = f" ({reason})" if reason else ""
        if base_row is not None and _is_ok(base_row["status"]):
            return "not_comparable", f"skipped in the run{why} but measured in the baseline"
        return "inconclusive", f"skipped in the run{why}"
    if not _is_ok(status):
        why = f": {reason}" if reason else ""
        if base_row is not None and not _is_ok(base_row["status"]):
            return "not_comparable", f"the cell did not complete in the run nor in the baseline (status {status}{why})"
        return "regressed", f"the cell did not complete in the run (status {status}{why})"
    if base_row is None:
        have = ", ".join(base.cell_names()) or "none"
        return "not_comparable", f"{model}@{profile} is not in the baseline (it has: {have})"
    if str(base_row["tier"]) != tier:
        return "not_comparable", f"{model} is tier {tier} in the run but {base_row['tier']} in the baseline"
    if not _is_ok(base_row["status"]):
        return "not_comparable", f"the baseline cell did not complete (status {base_row['status']})"
    return None


def _judge_cell(rule: GateRule, index: int, row: pd.Series, job: _Job) -> RuleResult:
    """One rule on one run cell: cell health and comparability first, then the metric."""
    result = RuleResult(
        rule, index, str(row["tier"]), str(row["model"]), str(row["profile"]), "no_significant_change", ""
    )
    match = cell_rows(job.base.cells, result.model, result.profile)
    base_row = None if match.empty else match.iloc[0]
    problem = _cell_problem(row, base_row, job.base)
    if problem is not None:
        result.verdict, result.reason = problem
        return result
    assert base_row is not None  # a cell missing from the baseline is a problem
    info, hardware = rule.info, job.hardware
    if info.is_speed and rule.normalize == "roofline":
        result.measure = _measure_normalized(rule, job, row, base_row)
    else:
        result.measure = _measure(rule, job, job.run, job.base, row, base_row)
    result.verdict, result.reason = judge(rule, result.measure, job.settings)
    if info.is_speed and rule.normalize is None and rule.tolerance is not None and not hardware.same:
        # the figures are shown, but a speed change between two machines measures the machines
        result.other_hardware = True
        result.verdict, result.reason = "not_comparable", hardware.reason()
    elif not info.is_speed and hardware.kernels_differ:
        result.measure.notes.append(hardware.kernel_note())
    _withhold_if_contended(result, row, base_row, job.interleaved)
    return result


def _withhold_if_contended(result: RuleResult, run_row: pd.Series, base_row: pd.Series, interleaved: bool) -> None:
    """A timing change measured while other processes held the cell's cores, or while the client could
    not send on time (client-limited load points), says nothing about the model: inconclusive, never
    failing. For interleaved sides (``tierbench ab``) a contended host is only noted: the neighbours hit
    both sides' blocks alike and cancel in the paired differences."""
    if not result.info.is_speed or result.verdict not in ("regressed", "improved"):
        return
    rows = (("run", run_row), ("baseline", base_row))
    shares = [(name, finite_or_none(r.get("host_other_cpu_share"))) for name, r in rows]
    busy = [
        f"in the {name} other processes took {share:.0%} of its cores"
        for name, share in shares
        if share is not None and share > CONTENDED_SHARE
    ]
    limited = [f"{n:.0f} in the {name}" for name, r in rows if (n := finite_or_none(r.get("client_limited_points")))]
    if not busy and not limited:
        return
    if interleaved and not limited:
        result.measure.notes.append(f"host contended ({'; '.join(busy)}): both sides' interleaved blocks shared it")
        return
    causes = [f"host contended ({'; '.join(busy)}; limit {CONTENDED_SHARE:.0%})"] if busy else []
    fixes = ["rerun on a quiet host (tierbench run --quiet-host)"] if busy else []
    if limited:
        causes.append(f"client-limited load points ({', '.join(limited)}): the client sent requests late")
        fixes.append("give the load client more CPU or lower the load")
    result.reason = f"{' and '.join(causes)}, so not called {result.verdict} ({result.reason}); {'; '.join(fixes)}"
    result.verdict, result.contended = "inconclusive", True


def _addressed(rule: GateRule, row: pd.Series, base: Snapshot) -> bool:
    """A rule that names no tier or model leaves out cells skipped in the run and absent or
    skipped in the baseline too (e.g. an API tier with no key on either side)."""
    if rule.tier is not None or rule.model is not None or str(row["status"]) != "skipped":
        return True
    return any(_is_ok(status) for status in cell_rows(base.cells, str(row["model"]), str(row["profile"]))["status"])


def _missing_from_run(rule: GateRule, index: int, run: Snapshot, base: Snapshot) -> list[RuleResult]:
    """Cells the baseline measured and the rule selects, but the run lacks: never a silent pass."""
    present = set(zip(run.cells["model"].astype(str), run.cells["profile"].astype(str), strict=True))
    missing = []
    for _, row in base.cells.iterrows():
        model, profile, tier = str(row["model"]), str(row["profile"]), str(row["tier"])
        selected = all(
            wanted is None or wanted == have
            for wanted, have in ((rule.tier, tier), (rule.model, model), (rule.profile, profile))
        )
        if selected and _is_ok(row["status"]) and (model, profile) not in present:
            reason = f"{model}@{profile} was measured in the baseline but is missing from the run"
            missing.append(RuleResult(rule, index, tier, model, profile, "not_comparable", reason))
    return missing


def evaluate(
    run: Snapshot,
    base: Snapshot,
    settings: GateRules,
    rules_source: str = "rules",
    requests: RequestMeasure = measure_requests,
    interleaved: bool = False,
) -> GateReport:
    """Every rule on every cell it selects; UserError for rules that address nothing in the run. ``tierbench ab``
    measures request metrics with its paired blocks (``requests``) and says its sides ran ``interleaved``."""
    if run.cells.empty:
        raise UserError(f"{run.source}: the run has no cells (cells.parquet is empty); nothing to gate")
    results: list[RuleResult] = []
    job = _Job(run, base, settings, compare_hosts(run.meta, base.meta), requests, interleaved)
    for index, rule in enumerate(settings.rules, start=1):
        where = f"{rules_source}: rule {index} ({rule.label})"
        cells = _select_cells(rule, where, run)
        _check_metric_present(rule, where, run, base)
        results += [_judge_cell(rule, index, row, job) for _, row in cells.iterrows() if _addressed(rule, row, base)]
        results.extend(_missing_from_run(rule, index, run, base))
    if not results:
        raise UserError(f"{rules_source}: no rule matched a cell that ran (every selected cell was skipped)")
    report = GateReport(run.source, base.source, settings, results)
    report.warnings.extend(_meta_warnings(run, base))
    if not job.hardware.same:
        judged = "judged on normalised figures where a rule says normalize: roofline, else not comparable"
        report.warnings.append(f"{job.hardware.reason()}; timing and throughput rules are {judged}")
    return report


def _model_specs(meta: dict[str, Any]) -> dict[str, Any]:
    models = meta.get("models")
    if not isinstance(models, list):
        return {}
    return {m["name"]: m for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)}


def _meta_warnings(run: Snapshot, base: Snapshot) -> list[str]:
    """Differences that do not block a comparison but that explain a verdict (a changed model file,
    another host, another suite)."""
    warnings = []
    for label, section, key in (
        ("suite", "suite", "name"),
        ("host", "host", "hostname"),
        ("llama.cpp", "host", "llama_cpp"),
    ):
        a, b = run.meta.get(section), base.meta.get(section)
        if isinstance(a, dict) and isinstance(b, dict) and a.get(key) != b.get(key) and a.get(key) and b.get(key):
            warnings.append(f"{label} differs: run {a.get(key)}, baseline {b.get(key)}")
    a_rev, b_rev = run.meta.get("git_revision"), base.meta.get("git_revision")
    if isinstance(a_rev, str) and isinstance(b_rev, str) and a_rev != b_rev:
        warnings.append(f"tierbench revision differs: run {a_rev[:12]}, baseline {b_rev[:12]}")
    run_specs, base_specs = _model_specs(run.meta), _model_specs(base.meta)
    for name in sorted(set(run_specs) & set(base_specs)):
        a_spec, b_spec = run_specs[name], base_specs[name]
        keys = sorted(k for k in set(a_spec) | set(b_spec) if k != "params" and a_spec.get(k) != b_spec.get(k))
        a_params, b_params = a_spec.get("params") or {}, b_spec.get("params") or {}
        keys += sorted(f"params.{k}" for k in set(a_params) | set(b_params) if a_params.get(k) != b_params.get(k))
        if keys:
            warnings.append(f"model '{name}' is configured differently from the baseline ({', '.join(keys)})")
    return warnings
