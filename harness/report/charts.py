"""Trade-off charts as inline SVG (matplotlib, no pyplot state, no fonts); with no data, a note says why."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.config.models import TIER_ORDER
from harness.report.cellview import CellView, Estimate, TaskScore, not_run_why
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, P95_E2E, MetricInfo

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
TIER_MARKERS = {"nano": "o", "mini": "s", "full": "^"}
TRADEOFF_X: tuple[MetricInfo, ...] = (P95_E2E, MEMORY, ENERGY, COST)
SCALING: tuple[MetricInfo, ...] = (ACCURACY, P95_E2E, MEMORY, ENERGY, COST)
_RC: Any = {  # typed loosely: matplotlib types rc keys as a Literal union
    "svg.fonttype": "none",
    "font.size": 9,
    "font.family": ["sans-serif"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: str | None
    note: str = ""


def _label(value: str) -> str:
    """Text for matplotlib: no mathtext ($), and matplotlib escapes XML itself."""
    return value.replace("$", r"\$")


def to_svg(fig: Figure, key: str, title: str) -> str:
    """An SVG fragment fit for inlining: no XML prolog, no namespace URLs, ids unique to this chart."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": key}):
        fig.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    size = re.search(r'<svg\s+width="([0-9.]+)pt"\s+height="[^"]*"', svg)
    width = f' style="max-width:{size.group(1)}pt"' if size else ""
    svg = re.sub(r'<svg\s+width="[^"]*"\s+height="[^"]*"', f"<svg{width}", svg, count=1)
    prefix = f"{key}-"
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    svg = svg.replace("url(#", f"url(#{prefix}").replace('xlink:href="#', f'xlink:href="#{prefix}')
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{safe_title}"', 1)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten on both axes, lower x and higher y being better, sorted by x."""
    front: list[tuple[float, float]] = []
    best_y = float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best_y:
            front.append((x, y))
            best_y = y
    return front


def error_bars(estimates: Sequence[Estimate]) -> list[list[float]]:
    """Matplotlib's [below, above] error bars; 0 on a side the interval lacks."""
    return [
        [max(e.value - e.low, 0.0) if e.value is not None and e.low is not None else 0.0 for e in estimates],
        [max(e.high - e.value, 0.0) if e.value is not None and e.high is not None else 0.0 for e in estimates],
    ]


def _err(est: Estimate) -> list[list[float]] | None:
    """One point's error bars; None (no caps drawn) without a full interval."""
    return None if est.low is None or est.high is None else error_bars([est])


def _not_run(cells: Sequence[CellView]) -> list[str]:
    """Each cell that did not run, with why: what every chart leaves out."""
    return [f"{c.label} ({not_run_why(c.status)}: {c.reason or 'no reason recorded'})" for c in cells if not c.ran]


def _left_out(cells: Sequence[CellView], metrics: Sequence[MetricInfo]) -> list[str]:
    """Each cell a chart leaves out, with why: it did not run, or the first of ``metrics`` it lacks."""
    out = []
    for c in cells:
        if not c.ran:
            out += _not_run([c])
        elif gap := next((m for m in metrics if not c.get(m.key).known), None):
            out.append(f"{c.label}: no {gap.label.lower()} ({c.get(gap.key).missing})")
    return out


def tradeoff_chart(cells: Sequence[CellView], x_metric: MetricInfo) -> Chart:
    """Accuracy against ``x_metric`` per cell, coloured by profile, with each profile's Pareto frontier."""
    key = f"acc-vs-{x_metric.key}"
    title = f"Accuracy vs {x_metric.label.lower()}"
    drawn = [c for c in cells if c.ran and c.get(ACCURACY.key).known and c.get(x_metric.key).known]
    left_out = _left_out(cells, (ACCURACY, x_metric))
    if not drawn:
        return Chart(key, title, None, "Nothing to draw: " + ("; ".join(left_out) or "no cells."))
    fig = _figure(5.2, 3.6)
    ax = fig.add_subplot()
    profiles = list(dict.fromkeys(c.profile for c in drawn))
    for i, profile in enumerate(profiles):
        colour = PALETTE[i % len(PALETTE)]
        mine = [c for c in drawn if c.profile == profile]
        for c in mine:
            x, y = c.get(x_metric.key), c.get(ACCURACY.key)
            ax.errorbar(
                [x.value or 0.0],
                [y.value or 0.0],
                xerr=_err(x),
                yerr=_err(y),
                fmt=TIER_MARKERS.get(c.tier, "D"),
                color=colour,
                ecolor=colour,
                elinewidth=1,
                capsize=3,
                markersize=7,
            )
            name = c.model + (" (GPU)" if x_metric == MEMORY and c.memory_on_gpu else "")
            ax.annotate(_label(name), (x.value or 0.0, y.value or 0.0), textcoords="offset points", xytext=(6, 4))
        front = pareto_front([(c.get(x_metric.key).value or 0.0, c.get(ACCURACY.key).value or 0.0) for c in mine])
        frontier = _label(f"{profile} (Pareto frontier)")
        ax.step(*zip(*front, strict=True), where="post", color=colour, linestyle="--", linewidth=1, label=frontier)
    ax.set(xlabel=_label(x_metric.axis_label), ylabel=_label(ACCURACY.axis_label))
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))  # long tick labels (costs) must not overlap
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="best", fontsize=8, frameon=False)
    note = ("Not shown: " + "; ".join(left_out)) if left_out else ""
    return Chart(key, title, to_svg(fig, key, title), note)


def scaling_chart(cells: Sequence[CellView]) -> Chart:
    """How each headline metric grows from nano to mini to full, one line per profile."""
    key, title = "tier-scaling", "Tier scaling"
    usable = [m for m in SCALING if any(c.ran and c.get(m.key).known for c in cells)]
    # a hybrid (cascade) row is no step on the nano -> mini -> full scale: it is drawn beside the tiers elsewhere
    tiers = sorted({c.tier for c in cells if c.ran and c.tier != "hybrid"}, key=lambda t: TIER_ORDER.get(t, 9))
    if not usable or not tiers:
        why = "; ".join(_not_run(cells)) or "no cell produced a headline metric"
        return Chart(key, title, None, f"Nothing to draw: {why}.")
    fig = _figure(2.4 * len(usable) + 0.6, 2.9)
    axes = fig.subplots(1, len(usable), squeeze=False)[0]
    profiles = list(dict.fromkeys(c.profile for c in cells))
    for ax, metric in zip(axes, usable, strict=True):
        for i, profile in enumerate(profiles):
            pts = [
                (tiers.index(c.tier), c.get(metric.key))
                for c in cells
                if c.ran and c.profile == profile and c.tier in tiers and c.get(metric.key).known
            ]
            if not pts:
                continue
            pts.sort(key=lambda p: p[0])
            ax.errorbar(
                [p[0] for p in pts],
                [e.value for _, e in pts],
                yerr=error_bars([e for _, e in pts]),
                marker="o",
                capsize=3,
                color=PALETTE[i % len(PALETTE)],
                label=_label(profile),
            )
        ax.set_xticks(range(len(tiers)), [_label(t) for t in tiers])
        ax.set_xlim(-0.4, len(tiers) - 0.6)
        ax.set_title(_label(metric.label), fontsize=9)
        if metric.kind == "percent":
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes[0].legend(fontsize=8, frameon=False)
    missing = [m.label for m in SCALING if m not in usable]
    note = f"No data in this run for: {', '.join(missing)}." if missing else ""
    return Chart(key, title, to_svg(fig, key, title), note)


def task_chart(scores: Sequence[TaskScore], cells: Sequence[CellView]) -> Chart:
    """Per-task accuracy (primary metric) for each cell, with 95% CI error bars."""
    key, title = "per-task", "Per-task accuracy"
    ok = [s for s in scores if s.primary and s.status == "ok" and s.value is not None]
    missing = sorted({f"{s.task} ({s.model} on {s.profile}): {s.status}" for s in scores if s.primary and s not in ok})
    if not ok:
        why = "; ".join(missing + _not_run(cells)) or "the suite ran no accuracy tasks"
        return Chart(key, title, None, f"Nothing to draw: {why}.")
    tasks = list(dict.fromkeys(s.task for s in ok))
    series = list(dict.fromkeys((s.model, s.profile) for s in ok))
    width = 0.8 / len(series)
    fig = _figure(min(max(7.0, 0.35 * len(tasks) * len(series) + 2.0), 16.0), 3.6)
    ax = fig.add_subplot()
    for i, (model, profile) in enumerate(series):
        rows = {s.task: s for s in ok if s.model == model and s.profile == profile}
        xs = [t + (i - (len(series) - 1) / 2) * width for t in range(len(tasks)) if tasks[t] in rows]
        vals = [Estimate(rows[t].value or 0.0, rows[t].ci_low, rows[t].ci_high) for t in tasks if t in rows]
        ax.bar(
            xs,
            [e.value or 0.0 for e in vals],
            width=width * 0.95,
            yerr=error_bars(vals),
            capsize=2,
            color=PALETTE[i % len(PALETTE)],
            label=_label(f"{model} on {profile}"),
        )
    ax.set_xticks(range(len(tasks)), [_label(t) for t in tasks])
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("accuracy (primary metric)")
    ax.legend(fontsize=8, frameon=False, ncols=min(len(series), 3), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    note = ("Not shown: " + "; ".join(missing)) if missing else ""
    return Chart(key, title, to_svg(fig, key, title), note)


def schedule_lag_chart(requests: pd.DataFrame) -> Chart | None:
    """Each replayed trace request's schedule lag (how late the client sent it) against its due time,
    so a client that fell behind the trace shows where; None when the run replayed no trace."""
    if requests.empty or not {"point", "scheduled_s", "dispatch_delay_s"} <= set(requests.columns):
        return None
    replayed = requests[requests["point"].astype(str) == "trace"]
    if replayed.empty:
        return None
    fig = _figure(10.4, 3.2)
    ax = fig.add_subplot()
    for i, ((model, scenario), part) in enumerate(replayed.groupby(["model", "scenario"], sort=True)):
        lag_ms = pd.to_numeric(part["dispatch_delay_s"], errors="coerce").astype(float) * 1e3
        p95 = float(np.nanpercentile(lag_ms, 95)) if lag_ms.notna().any() else float("nan")
        label = _label(f"{model} {scenario} (p95 {p95:.1f} ms, {len(part)} requests)")
        ax.plot(
            part["scheduled_s"].astype(float), lag_ms, ".", markersize=3, color=PALETTE[i % len(PALETTE)], label=label
        )
    ax.set(xlabel="due time (s after the scenario started)", ylabel="schedule lag (ms)")
    ax.legend(loc="best", fontsize=8, frameon=False)
    key, title = "schedule-lag", "Trace replay: per-request schedule lag"
    return Chart(key, title, to_svg(fig, key, title))


def all_charts(
    cells: Sequence[CellView], scores: Sequence[TaskScore], requests: pd.DataFrame | None = None
) -> list[Chart]:
    charts = [tradeoff_chart(cells, m) for m in TRADEOFF_X] + [scaling_chart(cells), task_chart(scores, cells)]
    lag = schedule_lag_chart(requests) if requests is not None else None
    return [*charts, lag] if lag is not None else charts
