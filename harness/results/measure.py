"""Measure one metric of one cell in the run and in the baseline, with the change between them: a
``Measure`` holds both values, their counts, the change with its interval, or why no fair comparison
exists (``not_comparable``) or no decision can be made (``inconclusive``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from harness.config.rules import MetricInfo, StatSettings
from harness.results.snapshot import Snapshot
from harness.stats import RatioResult, Sample, bootstrap_change, paired_blocks_change, paired_difference


@dataclass(frozen=True)
class Change:
    """run − base (``diff``) and run / base (``ratio``), each with a confidence interval."""

    diff: float
    diff_low: float
    diff_high: float
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float | None  # None: a single measurement, no noise estimate
    test: str


@dataclass
class Measure:
    run_value: float | None = None
    base_value: float | None = None
    n_run: int = 0
    n_base: int = 0
    change: Change | None = None
    not_comparable: str | None = None
    inconclusive: str | None = None
    failure: str | None = None  # the run broke outright (all requests failed ...)
    # the metric cannot reach the rule's sample size for this cell by construction (see measure_requests)
    not_applicable: str | None = None
    notes: list[str] = field(default_factory=list)


def cell_rows(frame: pd.DataFrame, model: str, profile: str) -> pd.DataFrame:
    """The rows of one (model, profile) cell."""
    if frame.empty:
        return frame
    return frame[(frame["model"].astype(str) == model) & (frame["profile"].astype(str) == profile)]


def _finite(values: pd.Series) -> NDArray[np.bool_]:
    return np.isfinite(pd.to_numeric(values, errors="coerce").astype(float))


def _requests(snapshot: Snapshot, model: str, profile: str, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A cell's measured requests, and those of them that completed with a finite ``column``."""
    rows = cell_rows(snapshot.requests, model, profile)
    completed = rows[~rows["error"].astype(bool)]
    return rows, completed[_finite(completed[column])]


def _strata(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["scenario"].astype(str), frame["point"].astype(str), strict=True))


def _bootstrapped(result: RatioResult, test: str) -> Change:
    """A bootstrap's result (it names its figures as Change does) as a Change."""
    return Change(**{f.name: getattr(result, f.name) for f in fields(Change) if f.name != "test"}, test=test)


def _preview(values: set[str], limit: int = 3) -> str:
    ordered = sorted(values)
    more = f" (+{len(ordered) - limit} more)" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def measure_accuracy(
    info: MetricInfo, run: Snapshot, base: Snapshot, model: str, profile: str, settings: StatSettings
) -> Measure:
    """Paired accuracy over the items both runs scored."""
    ri, bi = (cell_rows(snapshot.items, model, profile) for snapshot in (run, base))
    if info.task is not None:
        ri, bi = ri[ri["task"] == info.task], bi[bi["task"] == info.task]
    m = Measure(n_run=len(ri), n_base=len(bi))
    m.run_value, m.base_value = (float(f["outcome"].astype(float).mean()) if len(f) else None for f in (ri, bi))
    if ri.empty:
        m.inconclusive = "no per-item results in the run for this cell"
        return m
    if bi.empty:
        m.not_comparable = "the baseline has no per-item results for this cell"
        return m
    run_tasks, base_tasks = set(ri["task"]), set(bi["task"])
    if run_tasks != base_tasks:
        sides = (("run", run_tasks - base_tasks), ("baseline", base_tasks - run_tasks))
        parts = [f"only in {side}: {_preview(extra)}" for side, extra in sides if extra]
        m.not_comparable = f"tasks differ ({'; '.join(parts)})"
        return m
    merged = ri.merge(bi, on=["task", "doc_id"], how="outer", suffixes=("_run", "_base"), indicator=True)
    only_run = merged[merged["_merge"] == "left_only"]
    only_base = merged[merged["_merge"] == "right_only"]
    if len(only_run) or len(only_base):
        example = (only_run if len(only_run) else only_base).iloc[0]
        m.not_comparable = (
            f"items differ: {len(only_run)} only in run, {len(only_base)} only in baseline "
            f"(e.g. {example['task']}#{example['doc_id']}); run both with the same --limit and data"
        )
        return m
    changed = merged[merged["target_hash_run"] != merged["target_hash_base"]]
    if len(changed):
        m.not_comparable = f"reference answers differ for {len(changed)} items (the task data changed)"
        return m
    n = len(merged)
    if n < settings.min_items:
        m.inconclusive = f"only {n} paired items (min_items is {settings.min_items})"
        return m
    binary = bool(merged["binary_run"].astype(bool).all() and merged["binary_base"].astype(bool).all())
    result = paired_difference(
        merged["outcome_base"].astype(float).tolist(),
        merged["outcome_run"].astype(float).tolist(),
        binary=binary,
        level=settings.level,
        iterations=settings.bootstrap_iterations,
        seed=settings.seed,
    )
    base_mean = result.base_mean
    scale = 1.0 / base_mean if base_mean > 0 else math.nan
    m.change = Change(
        result.diff,
        result.ci_low,
        result.ci_high,
        result.run_mean * scale if base_mean > 0 else math.inf,
        1 + result.ci_low * scale,
        1 + result.ci_high * scale,
        result.p_value,
        result.test,
    )
    if binary:
        m.notes.append(f"{result.worse} items right in baseline and wrong in run, {result.better} the other way")
    return m


def undefined_count(frame: pd.DataFrame, column: str) -> int:
    """Completed requests (no error, an E2E) without ``column``: by its definition (docs/metrics.md) the
    figure does not exist for them, which is no failure. A decode rate needs two tokens that arrived
    apart (a live cascade's held-back answer has none); an escalated cascade item gives no prefill rate."""
    if frame.empty:
        return 0
    completed = ~frame["error"].astype(bool) & _finite(frame["e2e_s"])
    return int((completed & ~_finite(frame[column])).sum())


def _short_by_construction(defined: int, undefined: int, minimum: int) -> bool:
    """Too few requests with the figure, though enough completed: more of the same cannot fill the gap."""
    return defined < minimum <= defined + undefined


def measure_requests(
    info: MetricInfo, run: Snapshot, base: Snapshot, model: str, profile: str, settings: StatSettings
) -> Measure:
    """A latency or throughput statistic, bootstrapped over requests (and repetitions).

    Fewer than ``min_requests`` carrying it, in run and baseline alike, because the others leave it
    undefined is ``not_applicable``: a live cascade has a decode rate only on its escalated requests.
    """
    (rr, rv), (br, bv) = (_requests(snapshot, model, profile, info.column) for snapshot in (run, base))
    run_strata, base_strata = _strata(rr), _strata(br)
    run_undefined, base_undefined = undefined_count(rr, info.column), undefined_count(br, info.column)
    stat = info.stat

    def point(frame: pd.DataFrame) -> float | None:
        values = frame[info.column].astype(float).to_numpy()
        if not len(values):
            return None
        return float(values.mean() if stat == "mean" else np.percentile(values, float(stat[1:])))

    m = Measure(run_value=point(rv), base_value=point(bv), n_run=len(rv), n_base=len(bv))
    errors_run = int(rr["error"].astype(bool).sum())
    if errors_run:
        m.notes.append(f"{errors_run} of {len(rr)} run requests failed (left out of latency)")
    if rr.empty:
        m.inconclusive = "no measured requests in the run for this cell"
        return m
    if rv.empty and not run_undefined:
        m.failure = f"all {len(rr)} requests of the run failed or had no {info.column}"
        return m
    if br.empty or (bv.empty and not base_undefined):
        m.not_comparable = "the baseline has no measured requests for this cell"
        return m
    if run_strata != base_strata:
        m.not_comparable = (
            f"perf scenarios differ (run: {_preview({'/'.join(s) for s in run_strata})}; "
            f"baseline: {_preview({'/'.join(s) for s in base_strata})})"
        )
        return m
    minimum = settings.min_requests
    run_short = _short_by_construction(m.n_run, run_undefined, minimum)
    base_short = _short_by_construction(m.n_base, base_undefined, minimum)
    if run_short and base_short:
        m.not_applicable = (
            f"{info.column} exists on only {m.n_run} of {m.n_run + run_undefined} completed run requests and "
            f"{m.n_base} of {m.n_base + base_undefined} baseline requests (min_requests is {minimum}); the others "
            "have none by construction (a single token, or an answer sent at once as a cascade's held-back "
            "answers are), so the rule does not apply to this cell"
        )
        return m
    if m.n_run < minimum or m.n_base < minimum:
        m.inconclusive = f"only {m.n_run} run / {m.n_base} baseline requests (min_requests is {minimum})"
        for side, short, undefined in (("run", run_short, run_undefined), ("baseline", base_short, base_undefined)):
            if short:
                m.inconclusive += f"; {undefined} completed {side} requests have no {info.column} by construction"
        return m
    codes = {stratum: i for i, stratum in enumerate(sorted(run_strata))}

    def sample(frame: pd.DataFrame) -> Sample:
        strata = [codes[(str(s), str(p))] for s, p in zip(frame["scenario"], frame["point"], strict=True)]
        return Sample.of(frame[info.column].astype(float).tolist(), strata, frame["repetition"].astype(int).tolist())

    result = bootstrap_change(
        sample(bv), sample(rv), stat, level=settings.level, iterations=settings.bootstrap_iterations, seed=settings.seed
    )
    m.change = _bootstrapped(result, "bootstrap over requests")
    return m


def measure_paired_blocks(
    info: MetricInfo, run: Snapshot, base: Snapshot, model: str, profile: str, settings: StatSettings
) -> Measure:
    """A latency or throughput statistic of two sides run in interleaved blocks (``tierbench ab``):
    the ``repetition`` column numbers the pair a request's block belongs to on both sides. Every
    check of ``measure_requests`` applies; the change comes from the paired block ratios."""
    m = measure_requests(info, run, base, model, profile, settings)
    if m.change is None:
        return m
    (_, rv), (_, bv) = (_requests(snapshot, model, profile, info.column) for snapshot in (run, base))
    pairs = sorted(set(rv["repetition"].astype(int)) & set(bv["repetition"].astype(int)))
    missing = sorted(set(rv["repetition"].astype(int)) ^ set(bv["repetition"].astype(int)))
    if missing:
        m.notes.append(f"blocks of pair {', '.join(str(p + 1) for p in missing)} have no {info.column} on one side")
    if not pairs:
        m.change, m.inconclusive = None, f"no block pair has {info.column} on both sides"
        return m
    codes = {stratum: i for i, stratum in enumerate(sorted(_strata(rv)))}

    def block(frame: pd.DataFrame, pair: int) -> Sample:
        part = frame[frame["repetition"].astype(int) == pair]
        keys = zip(part["scenario"].astype(str), part["point"].astype(str), strict=True)
        strata = [codes.get(stratum, -1) for stratum in keys]
        return Sample.of(part[info.column].astype(float).tolist(), strata, [0] * len(part))

    result = paired_blocks_change(
        [block(bv, k) for k in pairs],
        [block(rv, k) for k in pairs],
        info.stat,
        level=settings.level,
        iterations=settings.bootstrap_iterations,
        seed=settings.seed,
    )
    m.change = _bootstrapped(result, f"paired bootstrap over {len(pairs)} interleaved block pairs")
    return m


def _cell_value(cells: pd.DataFrame, row: pd.Series, column: str, suffix: str = "") -> float:
    """A cell's numeric value (NaN: not measured; a snapshot's cell columns are floats);
    ``energy_per_request_j`` falls back to energy / request count for runs written before the
    cells table carried it."""
    name = column + suffix
    value = float(row[name]) if name in cells.columns else math.nan
    if math.isnan(value) and column == "energy_per_request_j":
        energy = _cell_value(cells, row, "energy_j", suffix)
        count = _cell_value(cells, row, "n_requests")
        return energy / count if count and count > 0 else math.nan
    return value


def measure_cell(info: MetricInfo, run: Snapshot, base: Snapshot, run_row: pd.Series, base_row: pd.Series) -> Measure:
    """A one-number-per-cell metric. There is no noise estimate: the tolerance is the margin;
    where the run stores a range (``<col>_low``/``<col>_high``, e.g. estimated energy) the
    comparison uses the whole range."""
    m = Measure(n_run=1, n_base=1)
    ends = ("", "_low", "_high")
    run_value, run_low, run_high = (_cell_value(run.cells, run_row, info.column, end) for end in ends)
    base_value, base_low, base_high = (_cell_value(base.cells, base_row, info.column, end) for end in ends)
    m.run_value, m.base_value = (None if math.isnan(v) else v for v in (run_value, base_value))
    if m.run_value is None:
        m.inconclusive = f"{info.column} was not measured in the run"
        return m
    if m.base_value is None:
        m.not_comparable = f"{info.column} was not measured in the baseline"
        return m
    ranged = not any(math.isnan(v) for v in (run_low, run_high, base_low, base_high))
    if not ranged:
        run_low = run_high = run_value
        base_low = base_high = base_value
    else:
        m.notes.append("compared as ranges (estimated figures)")

    def ratio(a: float, b: float) -> float:
        if b == 0:
            return 1.0 if a == 0 else math.inf
        return a / b

    m.change = Change(
        run_value - base_value,
        run_low - base_high,
        run_high - base_low,
        ratio(run_value, base_value),
        ratio(run_low, base_high),
        ratio(run_high, base_low),
        None,
        "single measurement" if not ranged else "range comparison",
    )
    return m
