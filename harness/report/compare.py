"""Deltas between two runs for ``report --baseline`` and ``compare``, tested exactly as the gate tests them
(harness.results.measure), so both give the same interval and verdict; memory, energy and cost, single
figures per cell, are shown untested."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from harness.config.rules import StatSettings, parse_metric
from harness.report.cellview import CellView
from harness.report.formatting import fmt
from harness.report.metrics import COST, ENERGY, MEMORY, MetricInfo
from harness.report.view import RunView
from harness.results.measure import measure_accuracy, measure_requests
from harness.results.snapshot import Snapshot, from_run
from harness.stats import direction

# (gate metric name, row label) of every tested row besides per-task accuracy
TESTED = (
    ("accuracy", "Accuracy (all items)"),
    ("e2e_p50", "p50 E2E latency"),
    ("e2e_p95", "p95 E2E latency"),
    ("ttft_p95", "p95 TTFT"),
)


@dataclass(frozen=True)
class DeltaRow:
    """One metric of one cell in both runs."""

    model: str
    profile: str
    metric: str
    kind: str
    baseline: float | None
    current: float | None
    mode: str  # "diff" (current - baseline), "ratio" (current / baseline) or "plain" (no test)
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    direction: int | None = None  # +1 significantly better, -1 worse, 0 neither, None untested
    test: str = ""
    note: str = ""
    gate_metric: str = ""  # the gate's name for the same metric ("" for untested rows)

    @property
    def significant(self) -> bool | None:
        return None if self.direction is None else self.direction != 0

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
    def verdict(self) -> str:
        if self.change is None:
            return "not comparable"
        if self.direction is None:
            return "not tested"
        return {1: "better", -1: "worse"}.get(self.direction, "no significant change")

    @property
    def marker(self) -> str:
        """▲ significantly better, ▼ significantly worse, ≈ within noise, · untested; * p<0.05, ** p<0.01."""
        if not self.direction:
            return "·" if self.direction is None else "≈"
        stars = "**" if self.p_value is not None and self.p_value < 0.01 else "*"
        return ("▲" if self.direction > 0 else "▼") + stars

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


def _tested_row(
    cell: CellView, gate_metric: str, label: str, pair: tuple[Snapshot, Snapshot], settings: StatSettings
) -> DeltaRow | None:
    """One metric of one cell measured as the gate measures it (None when neither run has it)."""
    info = parse_metric(gate_metric)
    measure = measure_accuracy if info.source == "items" else measure_requests
    m = measure(info, *pair, cell.model, cell.profile, settings)
    if m.run_value is None and m.base_value is None:
        return None
    ratio = not info.is_accuracy
    kind, mode = ("seconds", "ratio") if ratio else ("percent", "diff")
    row = DeltaRow(cell.model, cell.profile, label, kind, m.base_value, m.run_value, mode, gate_metric=gate_metric)
    why = m.failure or m.not_comparable or m.not_applicable or m.inconclusive
    if why or m.change is None:
        return replace(row, note=why or "no change could be estimated")
    change = m.change
    low, high = (change.ratio_low, change.ratio_high) if ratio else (change.diff_low, change.diff_high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return replace(row, note="no finite interval (a zero baseline)")
    verdict = direction(
        low,
        high,
        change.p_value,
        neutral=1.0 if ratio else 0.0,
        significance=settings.significance,
        worse_if_above=info.direction == "lower",
    )
    n = f"{m.n_run} vs {m.n_base} requests" if ratio else f"{m.n_run} paired items"
    test = f"{change.test}, {n}" + (f"; {'; '.join(m.notes)}" if m.notes else "")
    return replace(row, low=low, high=high, p_value=change.p_value, direction=verdict, test=test)


def _cell_rows(
    cell: CellView, current: RunView, baseline: RunView, pair: tuple[Snapshot, Snapshot], settings: StatSettings
) -> list[DeltaRow]:
    tasks = sorted(
        {s.task for s in current.scores if s.model == cell.model and s.profile == cell.profile and s.primary}
        & {s.task for s in baseline.scores if s.model == cell.model and s.profile == cell.profile and s.primary}
    )
    metrics = [TESTED[0], *((f"accuracy:{task}", f"{task} (items)") for task in tasks), *TESTED[1:]]
    rows = [_tested_row(cell, name, label, pair, settings) for name, label in metrics]
    return [r for r in rows if r is not None]


def _plain_row(cur: CellView, base: CellView, metric: MetricInfo, note: str) -> DeltaRow | None:
    a, b = cur.get(metric.key), base.get(metric.key)
    if a.value is None and b.value is None:
        return None
    return DeltaRow(cur.model, cur.profile, metric.label, metric.kind, b.value, a.value, "plain", note=note)


def compare_views(current: RunView, baseline: RunView, settings: StatSettings | None = None) -> Comparison:
    """Every comparable metric of every cell present in both runs."""
    settings = settings or StatSettings()
    pair = (from_run(current.run_dir), from_run(baseline.run_dir))
    comparison = Comparison(
        baseline.suite_name + f" ({baseline.run_dir.name})", current.suite_name + f" ({current.run_dir.name})"
    )
    base_cells = {(c.model, c.profile): c for c in baseline.cells}
    cur_cells = {(c.model, c.profile): c for c in current.cells}
    comparison.only_current = [c.label for k, c in cur_cells.items() if k not in base_cells]
    comparison.only_baseline = [c.label for k, c in base_cells.items() if k not in cur_cells]
    for key, cell in cur_cells.items():
        if (old := base_cells.get(key)) is None:
            continue
        if not (cell.ran and old.ran):
            comparison.not_compared.append(f"{cell.label}: {old.status} in the baseline, {cell.status} now")
            continue
        estimated = "estimate" in (cell.energy_source, old.energy_source)
        plain = (
            (MEMORY, "one peak per cell; no test"),
            (ENERGY, "estimated ranges; no test" if estimated else "no test"),
            (COST, "derived from prices and time; no test"),
        )
        rows = [_plain_row(cell, old, metric, note) for metric, note in plain]
        comparison.rows += _cell_rows(cell, current, baseline, pair, settings) + [r for r in rows if r is not None]
    return comparison
