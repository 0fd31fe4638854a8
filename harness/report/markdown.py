"""report.md: the decision in a few lines, for CI step summaries and pull-request comments."""

from __future__ import annotations

from collections.abc import Sequence

from harness.report.cascade import CascadeSection, excluded_text, figure_text
from harness.report.cellview import CellView, Estimate
from harness.report.compare import Comparison
from harness.report.formatting import energy_text, fmt
from harness.report.ladder import Ladder
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, P95_E2E
from harness.report.recommend import LIMITS, Recommendation
from harness.report.view import RunView
from harness.results.published import comparison_lines
from harness.safetext import one_line

MAX_DELTA_ROWS = 60


def md(value: object) -> str:
    """Text safe inside a Markdown table cell: no pipes, no raw HTML, one line, no control characters."""
    body = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return one_line(body.replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("`", "'"))


def _est(e: Estimate, kind: str) -> str:
    if e.value is None:
        return f"— ({md(e.missing)})"
    if e.low is not None and e.high is not None:
        return f"{fmt(e.value, kind)} ({fmt(e.low, kind)}–{fmt(e.high, kind)})"
    return fmt(e.value, kind)


def _memory(c: CellView) -> str:
    """Peak memory; a GPU cell's GPU figure says which it is, with host RSS beside it."""
    shown = _est(c.get(MEMORY.key), MEMORY.kind)
    if not c.memory_on_gpu:
        return shown
    return f"{shown} ({md(c.memory_label)}; host RSS {fmt(c.numbers.get('peak_rss_mb'), MEMORY.kind)})"


def _constraints(view: RunView) -> str:
    c = view.constraints
    given = [
        f"{symbol} {fmt(getattr(c, field), metric.kind)}"
        for field, _, symbol, metric, _ in LIMITS
        if getattr(c, field) is not None
    ]
    return f"{', '.join(given) or 'none'}; objective: {c.objective.replace('_', ' ')} ({md(view.constraints_note)})"


def _recommendations(recs: Sequence[Recommendation]) -> list[str]:
    lines = ["### Recommendation", "", "| Profile | Run | Why | Runner-up | Confidence |", "|---|---|---|---|---|"]
    for r in recs:
        pick = "**none meets the constraints**"
        if r.choice:
            tier = f" ({md(r.choice.tier)} tier)" if r.choice.tier != r.choice.model else ""
            pick = f"**{md(r.choice.model)}**{tier}"
            if r.choice.projected_from:
                pick += f" (projected from {md(r.choice.projected_from)})"
        runner = f"{md(r.runner_up.model)}: {md(r.runner_up_reason)}" if r.runner_up else md(r.runner_up_reason or "—")
        confidence = r.confidence + (f" ({md('; '.join(r.confidence_notes))})" if r.confidence_notes else "")
        lines.append(f"| {md(r.profile)} | {pick} | {md(r.reason)} | {runner} | {confidence} |")
    return lines


def _results(view: RunView) -> list[str]:
    lines = [
        "### Results",
        "",
        "| Model | Tier | Profile | Status | Accuracy | p95 E2E | Peak memory | Energy / request | Cost / 1k req |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in view.cells:
        status = c.status + (f": {c.reason}" if c.reason else "")
        profile = c.profile + (f" (emulated on {c.emulated_on})" if c.emulated_on else "")
        e = c.get(ENERGY.key)
        # an estimate is its range; a sensor's figure one value with its source
        energy = md(energy_text(e.value, e.low, e.high, c.energy_source)) if e.known else _est(e, ENERGY.kind)
        lines.append(
            f"| {md(c.model + (f' ({c.quant_label})' if c.quant_label else ''))} | {md(c.tier)} | {md(profile)} | {md(status)} | {_est(c.get(ACCURACY.key), ACCURACY.kind)} "
            f"| {_est(c.get(P95_E2E.key), P95_E2E.kind)} | {_memory(c)} "
            f"| {energy} | {_est(c.get(COST.key), COST.kind)} |"
        )
    return lines


def _projections(view: RunView) -> list[str]:
    """Projected figures in a table of their own: ranges, never mixed with measured rows."""
    lines = [
        "### Projected figures (projected_from: host; not measured)",
        "",
        "| Model | Profile | Why projected | Point | Decode tok/s | Prefill tok/s | p95 TTFT | p95 E2E "
        "| Load | Energy / request | Fit | Basis |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in view.projections:
        why = f"also emulated on {p.emulated_on} (see Results)" if p.emulated_on else p.not_emulated_reason or "—"
        if not p.projected:
            lines.append(f"| {md(p.model)} | {md(p.profile)} | {md(why)} | not projected: {md(p.reason)} |" + " |" * 8)
            continue
        cells = [
            _range(p.range("decode_tps"), "rate"),
            _range(p.range("prefill_tps"), "rate"),
            _range(p.range("ttft_p95_s"), "seconds"),
            _range(p.range("e2e_p95_s"), "seconds"),
            _range(p.range("load_time_s"), "seconds"),
            _range(p.range("energy_per_request_j"), "joules"),
        ]
        lines.append(
            f"| {md(p.model)} | {md(p.profile)} | {md(why)} | {md(p.point)} | {' | '.join(cells)} "
            f"| {md(p.fit or '—')} | {md(p.compute_target)}; {md(p.basis)} |"
        )
    return lines


def _range(e: Estimate, kind: str) -> str:
    """A projected figure: its range first (the honest part), the central value after."""
    if e.value is None:
        return f"— ({md(e.missing)})"
    if e.low is None or e.high is None:
        return fmt(e.value, kind)
    return f"{fmt(e.low, kind)}–{fmt(e.high, kind)} (mid {fmt(e.value, kind)})"


def _comparison(comparison: Comparison) -> list[str]:
    lines = [
        f"### Compared with {md(comparison.baseline_name)}",
        "",
        f"{len(comparison.improvements)} significantly better, {len(comparison.regressions)} significantly worse "
        "(▲ better, ▼ worse, * p<0.05, ** p<0.01, ≈ no significant change, · not tested).",
        "",
        "| Model | Profile | Metric | Baseline | Current | Change | 95% CI | Verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in comparison.rows[:MAX_DELTA_ROWS]:
        lines.append(
            f"| {md(d.model)} | {md(d.profile)} | {md(d.metric)} | {fmt(d.baseline, d.kind)} | {fmt(d.current, d.kind)} "
            f"| {d.marker} {md(d.change_text)} | {md(d.ci_text or '—')} | {md(d.verdict_text)} |"
        )
    if len(comparison.rows) > MAX_DELTA_ROWS:
        lines.append(f"\n{len(comparison.rows) - MAX_DELTA_ROWS} more rows in report.html.")
    for label, items in (
        ("Only in the current run", comparison.only_current),
        ("Only in the baseline", comparison.only_baseline),
        ("Not compared", comparison.not_compared),
    ):
        if items:
            lines.append(f"\n{label}: {md('; '.join(items))}.")
    return lines


def _ladders(ladders: Sequence[Ladder]) -> list[str]:
    lines: list[str] = []
    for ladder in ladders:
        lines += [
            f"### Ladder {md(ladder.name)} on {md(ladder.profile)}",
            "",
            md(ladder.knee),
            "",
            "| Rung | Bits/weight | Accuracy | KL divergence | Top-token agreement | Perplexity | Peak memory | Decode tok/s | Energy / request |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in ladder.rungs:
            lines.append(
                f"| {md(r.model)} ({md(r.label or r.quant_type)}) | {fmt(r.bits_per_weight, 'plain')} "
                f"| {_est(r.accuracy, ACCURACY.kind)} | {_est(r.kl, 'plain')} | {_est(r.top1, 'percent')} "
                f"| {_est(r.ppl, 'plain')} | {_est(r.memory, MEMORY.kind)} | {_est(r.decode_tps, 'rate')} "
                f"| {_est(r.energy, ENERGY.kind)} |"
            )
        lines.append("")
    return lines


def _cascade(section: CascadeSection) -> list[str]:
    lines = ["### Cascade", ""]
    if not section.shown:
        return [*lines, md(section.absent)]
    s = section.summary
    lines += [
        f"**{md(s['recommendation'])}**",
        "",
        f"Chain {md(s['chain_text'])} on `{md(s['signal'])}`; thresholds fitted on {s['items']['fit']} items, "
        f"scored on {s['items']['test']} held-out items ({md(excluded_text(s))}). "
        f"Chosen threshold {md(s['chosen']['threshold'])}: {md(s['chosen']['how'])}. "
        f"PGR {md(figure_text(s, 'pgr', 'ratio'))}; APGR {md(figure_text(s, 'apgr', 'ratio'))}; "
        f"CPT(50%) {md(figure_text(s, 'cpt50', 'percent'))}; CPT(80%) {md(figure_text(s, 'cpt80', 'percent'))}.",
        "",
        "| Option | Threshold | Accuracy | Cost / 1k req | p95 latency |",
        "|---|---|---|---|---|",
    ]
    for row in section.rows:
        lines.append(
            f"| {md(row['kind'])}: {md(row['label'])} | {md(row.get('threshold') or '')} "
            f"| {fmt(row['accuracy'], 'percent')} | {fmt(row['cost_per_1k_usd'], 'dollars')} "
            f"| {fmt(row['latency_p95_s'], 'seconds')} |"
        )
    for live in section.live:
        if live.items:
            lines.append(
                f"\nLive cascade {md(live.model)} on {md(live.profile)} (threshold {md(live.threshold)}, "
                f"{live.items} items): accuracy {fmt(live.live.get('accuracy'), 'percent')} measured, "
                f"{fmt(live.replayed.get('accuracy'), 'percent')} replayed."
            )
        else:
            lines.append(f"\nLive cascade {md(live.model)} on {md(live.profile)}: no comparison ({md(live.note)}).")
    return lines


def render_markdown(
    view: RunView,
    recs: Sequence[Recommendation],
    comparison: Comparison | None,
    ladders: Sequence[Ladder] = (),
    cascade: CascadeSection | None = None,
) -> str:
    lines = [
        f"## tierbench: {md(view.suite_name)} (`{md(view.run_dir.name)}`)",
        "",
        f"**Constraints:** {_constraints(view)}",
        "",
        *_recommendations(recs),
        "",
        *_results(view),
    ]
    if view.projections:
        lines += ["", *_projections(view)]
    if ladders:
        lines += ["", *_ladders(ladders)]
    if cascade is not None:
        lines += ["", *_cascade(cascade)]
    if comparison is not None:
        lines += ["", *_comparison(comparison)]
    if view.published:
        lines += ["", "### Published vs measured", ""] + [f"- {md(line)}" for line in comparison_lines(view.published)]
    if view.caveats:
        lines += ["", "### Caveats", ""] + [f"- {md(c.text)}" for c in view.caveats]
    lines += [
        "",
        "Full report with charts, per-task scores and latency percentiles: `report.html` in the run directory.",
        "",
    ]
    return "\n".join(lines)
