"""The report's cascade section: the replayed cost–accuracy curve, its figures and recommendation; the
replay ``tierbench cascade`` saved when it is newer than the samples, else the run's local tiers, cheapest first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

from harness.cascade import Goal, ReplayConfig, replay_run
from harness.cascade.live import LiveComparison, live_comparisons
from harness.config.suite import Constraints
from harness.errors import UserError
from harness.report.cellview import Estimate
from harness.report.charts import PALETTE, TIER_MARKERS, Chart, _err, _figure, _label, to_svg
from harness.report.formatting import clean

KEY, TITLE = "cascade", "Cascade: accuracy vs cost"


@dataclass(frozen=True)
class CascadeSection:
    """What the report shows about cascades; ``absent`` says why there is no replay."""

    absent: str = ""
    source: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: Chart | None = None
    live: list[LiveComparison] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return not self.absent


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (v if isinstance(v, str | bool) else clean(v)) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _saved(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The replay ``tierbench cascade`` wrote, when it is newer than the samples it was computed from."""
    table, summary, samples = run_dir / "cascade.parquet", run_dir / "cascade.json", run_dir / "samples.jsonl"
    if not (table.exists() and summary.exists()):
        return None
    if samples.exists() and min(table.stat().st_mtime, summary.stat().st_mtime) < samples.stat().st_mtime:
        return None
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
        frame = pd.read_parquet(table)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "recommendation" not in data or "kind" not in frame.columns:
        return None
    return frame, data


def build_cascade_section(run_dir: Path, constraints: Constraints) -> CascadeSection:
    """The section for ``run_dir``; never raises for a run it cannot replay, it says why instead."""
    try:
        live = live_comparisons(run_dir)
    except UserError as exc:
        live = [LiveComparison("", "", [], "", "", note=str(exc))]
    saved = _saved(run_dir)
    if saved is not None:
        frame, summary = saved
        source = "from RUN/cascade.json, written by tierbench cascade"
    else:
        try:
            result = replay_run(run_dir, ReplayConfig(), Goal.of(constraints))
        except UserError as exc:
            return CascadeSection(absent=f"No cascade replay: {exc}", live=live)
        frame, summary = result.frame(), result.summary
        source = "replayed by the report on the run's local tiers, cheapest first (tierbench cascade RUN --chain … for another chain)"
    rows = _records(frame)
    chosen = [r for r in rows if r["kind"] == "cascade" and r.get("chosen")]
    index = int(summary.get("chosen", {}).get("index", 0))
    random = [r for r in rows if r["kind"] == "random"]
    shown = [r for r in rows if r["kind"] == "tier"] + chosen
    if index < len(random):
        shown.append(
            {**random[index], "label": f"random escalation at the same rates ({summary.get('chain_text', '')})"}
        )
    shown += [r for r in rows if r["kind"] == "oracle"]
    return CascadeSection(source=source, summary=summary, rows=shown, chart=cascade_chart(rows, summary), live=live)


def _xy(points: list[dict[str, Any]], x_name: str) -> tuple[list[float], list[float]]:
    return [float(p[x_name] or 0.0) for p in points], [float(p["accuracy"] or 0.0) for p in points]


def cascade_chart(rows: list[dict[str, Any]], summary: dict[str, Any]) -> Chart:
    """Accuracy against cost per 1k requests: the curve, each single tier, random escalation and the oracle."""
    curve, tiers, random, oracle = (
        [r for r in rows if r["kind"] == k] for k in ("cascade", "tier", "random", "oracle")
    )
    if not curve or not tiers:
        return Chart(KEY, TITLE, None, "Nothing to draw: the replay has no curve.")
    by_cost = all(r.get("cost_per_1k_usd") is not None for r in curve + tiers + random + oracle)
    x_name = "cost_per_1k_usd" if by_cost else f"reach_{len(tiers) - 1}"
    x_label = (
        "cost per 1k requests (USD), every tier tried paid" if by_cost else "share of requests reaching the last tier"
    )
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    ax.plot(*_xy(random, x_name), linestyle="--", color="#888888", linewidth=1, label="random escalation (expected)")
    chain = _label(f"cascade {summary.get('chain_text', '')}")
    ax.plot(*_xy(curve, x_name), marker="o", markersize=3, color=PALETTE[0], label=chain)
    chosen = [p for p in curve if p.get("chosen")]
    if chosen:
        xs, ys = _xy(chosen, x_name)
        ax.plot(xs, ys, marker="*", markersize=13, color=PALETTE[0], linestyle="none", label="chosen threshold")
        label = _label(f"threshold {chosen[0]['threshold']}")
        ax.annotate(label, (xs[0], ys[0]), textcoords="offset points", xytext=(6, -12), fontsize=8)
    for i, t in enumerate(tiers):
        value = float(t["accuracy"] or 0.0)
        ax.errorbar(
            _xy([t], x_name)[0],
            [value],
            yerr=_err(Estimate(value, t.get("accuracy_low"), t.get("accuracy_high"))),
            fmt=TIER_MARKERS.get(str(t["label"]), "D"),
            color=PALETTE[(i + 1) % len(PALETTE)],
            markersize=8,
            capsize=3,
            label=_label(f"{t['label']} alone"),
        )
    if oracle:
        ax.plot(*_xy(oracle, x_name), marker="P", markersize=9, color=PALETTE[4], linestyle="none", label="oracle")
    ax.set(xlabel=_label(x_label), ylabel="accuracy (held-out items)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    note = (
        ""
        if by_cost
        else "The run has no cost for every tier, so the x axis is the share of requests reaching the last tier."
    )
    return Chart(KEY, TITLE, to_svg(fig, KEY, TITLE), note)


def figure_text(summary: dict[str, Any], name: str, kind: str) -> str:
    """A summary figure with its interval, or why it is undefined."""
    fig = summary.get(name) or {}
    value, low, high = (clean(fig.get(k)) for k in ("value", "low", "high"))
    if value is None:
        return "undefined (the last tier is not more accurate than the first, or never reached)"

    def show(v: float) -> str:
        return f"{v:.1%}" if kind == "percent" else f"{v:.2f}"

    return show(value) + (f" (95% CI {show(low)}–{show(high)})" if low is not None and high is not None else "")


def excluded_text(summary: dict[str, Any]) -> str:
    if not (total := int(summary.get("excluded_total") or 0)):
        return "no item left out"
    return f"{total} item(s) left out: " + "; ".join(f"{n} {why}" for why, n in (summary.get("excluded") or {}).items())
