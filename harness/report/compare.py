"""Deltas between two runs with significance, shared by ``report --baseline`` and ``compare``.

Accuracy: McNemar's exact test on the items both runs scored (paired), falling back to a
two-proportion z-test from the scores table when items do not match. Latency: a bootstrap
confidence interval on the ratio of percentiles. Memory, energy and cost are single figures per
cell, so their deltas are shown without a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.report.formatting import fmt
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, MetricInfo
from harness.report.stats import (
    DiffResult,
    RatioResult,
    bootstrap_ratio_ci,
    paired_accuracy,
    proportion_se,
    unpaired_difference,
)
from harness.report.view import CellView, RunView, TaskScore

MIN_PAIRED_SHARE = 0.5


@dataclass(frozen=True)
class DeltaRow:
    """One metric of one cell in both runs."""

    model: str
    profile: str
    metric: str
    kind: str
    higher_is_better: bool
    baseline: float | None
    current: float | None
    mode: str  # "diff" (current - baseline), "ratio" (current / baseline) or "plain" (no test)
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    test: str = ""
    note: str = ""

    @property
    def verdict_text(self) -> str:
        """The verdict with its note, as printed in the terminal and in Markdown."""
        return f"{self.verdict} ({self.note})" if self.note else self.verdict

    @property
    def change(self) -> float | None:
        if self.current is None or self.baseline is None:
            return None
        if self.mode == "ratio":
            return self.current / self.baseline if self.baseline else None
        return self.current - self.baseline

    @property
    def better(self) -> bool | None:
        change = self.change
        if change is None:
            return None
        neutral = 1.0 if self.mode == "ratio" else 0.0
        if change == neutral:
            return None
        return (change > neutral) == self.higher_is_better

    @property
    def verdict(self) -> str:
        if self.change is None:
            return "not comparable"
        if self.significant is None:
            return "not tested"
        if not self.significant:
            return "no significant change"
        return "better" if self.better else "worse"

    @property
    def marker(self) -> str:
        """▲ significantly better, ▼ significantly worse, ≈ within noise, · untested; * p<0.05, ** p<0.01."""
        if self.significant is None:
            return "·"
        if not self.significant:
            return "≈"
        stars = "**" if self.p_value is not None and self.p_value < 0.01 else "*"
        return ("▲" if self.better else "▼") + stars

    @property
    def change_text(self) -> str:
        change = self.change
        if change is None:
            return "—"
        if self.mode == "ratio":
            return f"×{change:.2f} ({(change - 1) * 100:+.0f}%)"
        if self.kind == "percent":
            return f"{change * 100:+.1f} pp"
        rel = f" ({change / self.baseline * 100:+.0f}%)" if self.baseline else ""
        return f"{'+' if change >= 0 else '−'}{fmt(abs(change), self.kind)}{rel}"

    @property
    def ci_text(self) -> str:
        if self.low is None or self.high is None:
            return ""
        if self.mode == "ratio":
            return f"×{self.low:.2f} to ×{self.high:.2f}"
        if self.kind == "percent":
            return f"{self.low * 100:+.1f} to {self.high * 100:+.1f} pp"
        return f"{self.low:+.3g} to {self.high:+.3g}"


@dataclass
class Comparison:
    baseline_name: str
    current_name: str
    rows: list[DeltaRow] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[DeltaRow]:
        return [r for r in self.rows if r.verdict == "worse"]

    @property
    def improvements(self) -> list[DeltaRow]:
        return [r for r in self.rows if r.verdict == "better"]


def _from_diff(base: DeltaRow, result: DiffResult | None) -> DeltaRow:
    if result is None:
        return DeltaRow(**{**base.__dict__, "note": "too little data for a test"})
    return DeltaRow(
        **{
            **base.__dict__,
            "low": result.low,
            "high": result.high,
            "p_value": result.p_value,
            "significant": result.significant,
            "test": result.test,
        }
    )


Items = dict[tuple[str, str, str], dict[str, bool]]


def _items(view: RunView) -> Items:
    """Per-item correctness of a run, grouped by (model, profile, task)."""
    out: Items = {}
    for (model, profile, task, doc), correct in view.samples.correct.items():
        out.setdefault((model, profile, task), {})[doc] = correct
    return out


def _task_rows(cur: RunView, base: RunView, cell: CellView, items: tuple[Items, Items]) -> list[DeltaRow]:
    rows = []
    mine = {s.task: s for s in cur.scores if s.model == cell.model and s.profile == cell.profile and s.primary}
    theirs = {s.task: s for s in base.scores if s.model == cell.model and s.profile == cell.profile and s.primary}
    for task in sorted(set(mine) & set(theirs)):
        a, b = mine[task], theirs[task]
        row = DeltaRow(cell.model, cell.profile, f"{task} ({a.metric})", "percent", True, b.value, a.value, "diff")
        if a.status != "ok" or b.status != "ok" or a.value is None or b.value is None:
            rows.append(DeltaRow(**{**row.__dict__, "note": f"not scored in both runs ({b.status} → {a.status})"}))
            continue
        rows.append(_from_diff(row, _task_test(items, a, b)))
    return rows


def _task_test(items: tuple[Items, Items], a: TaskScore, b: TaskScore) -> DiffResult | None:
    prefix = (a.model, a.profile, a.task)
    now, before = items[0].get(prefix, {}), items[1].get(prefix, {})
    common = sorted(set(now) & set(before))
    smaller = min(len(now), len(before))
    if common and smaller and len(common) >= MIN_PAIRED_SHARE * smaller:
        return paired_accuracy([now[d] for d in common], [before[d] for d in common])
    se_a = a.stderr if a.stderr is not None else proportion_se(a.value or 0.0, a.n or 0)
    se_b = b.stderr if b.stderr is not None else proportion_se(b.value or 0.0, b.n or 0)
    if se_a is None or se_b is None or a.value is None or b.value is None:
        return None
    n = (a.n or 0) + (b.n or 0)
    return unpaired_difference(a.value, se_a, b.value, se_b, n, "two-proportion z-test (items not paired)")


def _latency_rows(cur: RunView, base: RunView, cell: CellView) -> list[DeltaRow]:
    rows = []
    for column, q, label in (
        ("e2e_s", 50, "p50 E2E latency"),
        ("e2e_s", 95, "p95 E2E latency"),
        ("ttft_s", 95, "p95 TTFT"),
    ):
        a = _values(cur, cell, column)
        b = _values(base, cell, column)
        if a.size == 0 and b.size == 0:
            continue
        row = DeltaRow(
            cell.model,
            cell.profile,
            label,
            "seconds",
            False,
            float(np.percentile(b, q)) if b.size else None,
            float(np.percentile(a, q)) if a.size else None,
            "ratio",
        )
        result: RatioResult | None = bootstrap_ratio_ci(a, b, q, seed=q) if a.size and b.size else None
        if result is None:
            rows.append(DeltaRow(**{**row.__dict__, "note": "fewer than 5 requests on a side; no test"}))
            continue
        rows.append(
            DeltaRow(
                **{
                    **row.__dict__,
                    "low": result.low,
                    "high": result.high,
                    "p_value": result.p_value,
                    "significant": result.significant,
                    "test": f"bootstrap 95% CI of the ratio ({a.size} vs {b.size} requests)",
                }
            )
        )
    return rows


def _values(view: RunView, cell: CellView, column: str) -> np.ndarray:
    frame = view.requests
    if frame.empty or column not in frame:
        return np.array([])
    mine = frame[(frame["model"] == cell.model) & (frame["profile"] == cell.profile)][column]
    return mine.dropna().to_numpy(dtype=float)


def _plain_row(cur: CellView, base: CellView, metric: MetricInfo, note: str) -> DeltaRow | None:
    a, b = cur.get(metric.key), base.get(metric.key)
    if a.value is None and b.value is None:
        return None
    return DeltaRow(
        cur.model, cur.profile, metric.label, metric.kind, metric.higher_is_better, b.value, a.value, "plain", note=note
    )


def _overall_accuracy(cur: CellView, base: CellView) -> DeltaRow | None:
    a, b = cur.get(ACCURACY.key), base.get(ACCURACY.key)
    if a.value is None or b.value is None:
        return None
    row = DeltaRow(cur.model, cur.profile, "Accuracy (mean over tasks)", "percent", True, b.value, a.value, "diff")
    if None in (a.low, a.high, b.low, b.high):
        return DeltaRow(**{**row.__dict__, "note": "no confidence intervals; no test"})
    se_a = (a.high - a.low) / (2 * 1.959963984540054)  # type: ignore[operator]
    se_b = (b.high - b.low) / (2 * 1.959963984540054)  # type: ignore[operator]
    result = unpaired_difference(a.value, se_a, b.value, se_b, cur.items + base.items, "z-test on the task-mean CIs")
    return _from_diff(row, result)


def compare_views(current: RunView, baseline: RunView) -> Comparison:
    """Every comparable metric of every cell present in both runs."""
    comparison = Comparison(
        baseline.suite_name + f" ({baseline.run_dir.name})", current.suite_name + f" ({current.run_dir.name})"
    )
    base_cells = {(c.model, c.profile): c for c in baseline.cells}
    cur_cells = {(c.model, c.profile): c for c in current.cells}
    comparison.only_current = [c.label for k, c in cur_cells.items() if k not in base_cells]
    comparison.only_baseline = [c.label for k, c in base_cells.items() if k not in cur_cells]
    items = (_items(current), _items(baseline))
    for key, cell in cur_cells.items():
        old = base_cells.get(key)
        if old is None:
            continue
        if not (cell.ran and old.ran):
            comparison.not_compared.append(f"{cell.label}: {old.status} in the baseline, {cell.status} now")
            continue
        rows: list[DeltaRow | None] = [_overall_accuracy(cell, old)]
        rows += _task_rows(current, baseline, cell, items)
        rows += _latency_rows(current, baseline, cell)
        rows.append(_plain_row(cell, old, MEMORY, "one peak per cell; no test"))
        energy_note = (
            "estimated ranges; no test" if "estimate" in (cell.energy_source, old.energy_source) else "no test"
        )
        rows.append(_plain_row(cell, old, ENERGY, energy_note))
        rows.append(_plain_row(cell, old, COST, "derived from prices and time; no test"))
        comparison.rows.extend(r for r in rows if r is not None)
    return comparison
