"""The variants view: each base model's variants (reasoning effort, verbosity, threads...) against cost and p95
latency, the Pareto frontier, and the cheapest variant that matches a costlier one within its accuracy interval;
variants are ordinary cells whose labels name a base model (ladder rungs have their own section)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib

from harness.report.cellview import CellView, Estimate
from harness.report.charts import PALETTE, Chart, _figure, _label, pareto_front, to_svg
from harness.report.formatting import fmt
from harness.report.metrics import ACCURACY, COST, P95_E2E, MetricInfo
from harness.report.view import RunView


@dataclass(frozen=True)
class VariantPoint:
    """One variant's cell: what it is, its accuracy with its interval, cost and p95 latency."""

    cell: CellView
    base_model: str
    variant: str
    on_frontier: bool  # no other variant or tier on this profile is cheaper and at least as accurate

    @property
    def accuracy(self) -> Estimate:
        return self.cell.get(ACCURACY.key)

    @property
    def cost(self) -> Estimate:
        return self.cell.get(COST.key)

    @property
    def p95(self) -> Estimate:
        return self.cell.get(P95_E2E.key)


@dataclass(frozen=True)
class VariantsView:
    """The variants of every base model on one profile."""

    profile: str
    points: list[VariantPoint]
    finding: str  # "" when no variant matches a costlier one within its interval
    chart: Chart


def _costed(points: list[VariantPoint]) -> list[VariantPoint]:
    return [p for p in points if p.cell.ran and p.accuracy.known and p.cost.known]


def matching_finding(points: list[VariantPoint]) -> str:
    """The most accurate costlier cell that a cheaper variant of another base model matches within its
    95% interval, with the cheapest such variant; "" when none does."""
    costed = _costed(points)
    for costly in sorted(costed, key=lambda p: -(p.accuracy.value or 0.0)):
        low, cost = costly.accuracy.low, costly.cost.value or 0.0
        if low is None or cost <= 0:
            continue
        cheaper = [
            p
            for p in costed
            if p.base_model != costly.base_model and (p.cost.value or 0.0) < cost and (p.accuracy.value or 0.0) >= low
        ]
        if cheaper:
            best = min(cheaper, key=lambda p: p.cost.value or 0.0)
            return (
                f"{best.cell.model} matches {costly.cell.model} within its 95% interval "
                f"({fmt(best.accuracy.value, 'percent')} against {fmt(costly.accuracy.value, 'percent')}, "
                f"interval {fmt(low, 'percent')}–{fmt(costly.accuracy.high, 'percent')}) "
                f"at {(best.cost.value or 0.0) / cost:.0%} of its cost per 1k requests."
            )
    return ""


def _chart(profile: str, points: list[VariantPoint]) -> Chart:
    key = f"variants-{profile}"
    title = f"Variants on {profile}: accuracy vs cost per 1k requests and vs p95 latency"
    panels: tuple[MetricInfo, ...] = (COST, P95_E2E)
    if not any(p.cell.ran and p.accuracy.known and p.cell.get(m.key).known for p in points for m in panels):
        return Chart(key, title, None, "Nothing to draw: no variant has an accuracy with a cost or a latency.")
    fig = _figure(8.0, 3.4)
    bases = list(dict.fromkeys(p.base_model for p in points))
    for i, metric in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        drawn = [p for p in points if p.cell.ran and p.accuracy.known and p.cell.get(metric.key).known]
        for j, base in enumerate(bases):
            series = sorted((p for p in drawn if p.base_model == base), key=lambda p: p.cell.get(metric.key).value or 0)
            xs = [p.cell.get(metric.key).value or 0.0 for p in series]
            ys = [p.accuracy.value or 0.0 for p in series]
            ax.plot(xs, ys, "o-", color=PALETTE[j % len(PALETTE)], label=_label(base))
            for x, y, p in zip(xs, ys, series, strict=True):
                ax.annotate(_label(p.cell.model.partition("@")[2]), (x, y), textcoords="offset points", xytext=(4, 4))
        front = pareto_front([(p.cell.get(metric.key).value or 0.0, p.accuracy.value or 0.0) for p in drawn])
        ax.step([x for x, _ in front], [y for _, y in front], where="post", color="#444", linestyle="--", linewidth=1)
        ax.plot([], [], color="#444", linestyle="--", label="Pareto frontier")
        ax.set(xlabel=_label(metric.axis_label), ylabel=_label(ACCURACY.axis_label))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        if i == 0:
            ax.legend(loc="best", fontsize=8, frameon=False)
    return Chart(key, title, to_svg(fig, key, title))


def build_variants(view: RunView) -> list[VariantsView]:
    """One view per profile on which cells of variants ran; rungs of a ladder are left to its own section."""
    variants = [c for c in view.cells if c.base_model and not c.ladder]
    views = []
    for profile in dict.fromkeys(c.profile for c in variants):
        points = [VariantPoint(c, c.base_model, c.variant, False) for c in variants if c.profile == profile]
        costed = _costed(points)
        front = set(pareto_front([(p.cost.value or 0.0, p.accuracy.value or 0.0) for p in costed]))
        points = [replace(p, on_frontier=p in costed and (p.cost.value, p.accuracy.value) in front) for p in points]
        points.sort(key=lambda p: (p.base_model, p.cost.value if p.cost.value is not None else float("inf")))
        views.append(VariantsView(profile, points, matching_finding(points), _chart(profile, points)))
    return views
