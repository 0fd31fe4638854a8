"""The terminal summary printed at the end of a run, read through the report's view of the run."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from harness.meters.contention import CONTENDED_SHARE
from harness.report.caveats import concurrency_notes, truncation_lines
from harness.report.cellview import CellView, Estimate
from harness.report.formatting import cost_split_text, energy_text
from harness.report.loadnotes import point_notes, session_notes
from harness.report.metrics import ACCURACY, MEMORY, P95_E2E
from harness.report.projections import ProjectionRow
from harness.report.view import RunView
from harness.results.measure import cell_rows
from harness.results.schema import CellStatus
from harness.safetext import terminal
from harness.stats import summarize

if TYPE_CHECKING:
    from harness.report.recommend import Recommendation
    from harness.results.published import PublishedComparison

STATUS_STYLE: dict[str, str] = {
    CellStatus.OK: "green",
    CellStatus.SKIPPED: "yellow",
    CellStatus.FAILED: "red",
    CellStatus.DOES_NOT_FIT: "magenta",
}
COLUMNS = ("model", "tier", "backend", "profile", "status", "accuracy ±95%", "TTFT p50", "E2E p95", "decode tok/s",
           "peak MiB: RSS (anon/file)", "energy", "load s")  # fmt: skip


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "—" if value is None or math.isnan(value) else format(value, fmt) + unit


def _row(view: RunView, cell: CellView) -> list[str]:
    mine = cell_rows(view.requests, cell.model, cell.profile)
    ttft, byte, decode = (
        (summarize(mine[c].tolist()) if len(mine) else {}) for c in ("ttft_s", "first_byte_s", "decode_tps")
    )
    ttft_text = _num(ttft.get("p50"), ".3f", " s")
    if (b := byte.get("p50")) is not None and (t := ttft.get("p50")) is not None and b < 0.9 * t:
        ttft_text += f"\nbyte {b:.3f} s"  # the server answered long before the first answer token: thinking
    accuracy = cell.get(ACCURACY.key)
    acc_text = "—"
    if accuracy.value is not None:
        half = (accuracy.high - accuracy.low) / 2 if accuracy.high is not None and accuracy.low is not None else 0.0
        acc_text = f"{accuracy.value * 100:.1f} ± {half * 100:.1f}"
    cut, items = view.samples.truncation(cell.model, cell.profile)
    if cut:  # beside the accuracy: items whose reasoning used every token before an answer
        acc_text += f"\n{cut}/{items} out of tokens reasoning"
    numbers = cell.numbers
    energy = energy_text(
        numbers.get("energy_j"), numbers.get("energy_j_low"), numbers.get("energy_j_high"), cell.energy_source
    )
    anon, file = _num(numbers.get("peak_anon_mb"), ".0f"), _num(numbers.get("peak_file_mb"), ".0f")
    return [
        terminal(cell.model) + (f"\n({terminal(cell.quant_label)})" if cell.quant_label else ""),  # a rung's label
        terminal(cell.tier),
        terminal(cell.backend),
        terminal(cell.profile),
        f"[{STATUS_STYLE.get(cell.status, 'white')}]{terminal(cell.status)}[/]",
        acc_text,
        ttft_text,
        _num(cell.get(P95_E2E.key).value, ".2f", " s"),
        _num(decode.get("mean"), ".1f"),
        _memory(cell, anon, file),
        energy,
        _num(numbers.get("load_time_s"), ".2f"),
    ]


def _memory(cell: CellView, anon: str, file: str) -> str:
    """Host RSS with its parts; a cell that ran on a GPU shows its GPU figure first, labelled."""
    rss = f"RSS {_num(cell.numbers.get('peak_rss_mb'), '.0f')} ({anon}/{file})"
    if not cell.memory_on_gpu:
        return f"{_num(cell.get(MEMORY.key).value, '.0f')} ({anon}/{file})"
    return f"GPU {_num(cell.get(MEMORY.key).value, '.0f')}\n{rss}"


def print_summary(console: Console, view: RunView) -> None:
    """One row per cell, then why each cell that did not complete stopped."""
    table = Table(title="tierbench results", show_lines=False, header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in COLUMNS[:5] else "right")
    for cell in view.cells:
        table.add_row(*_row(view, cell))
    console.print(table)

    def warn(lines: Iterable[str]) -> None:
        for line in lines:
            console.print(f"  [yellow]{terminal(line)}[/]")

    # a cell whose neighbours took more of its cores than the meter allows
    warn(
        f"{cell.model}@{cell.profile}: contended — other processes took {share:.0%} of its "
        f"{_num(cell.numbers.get('cores_seen'), '.0f')} cores; its latency is not the model's (rerun with --quiet-host)"
        for cell in view.cells
        if (share := cell.numbers.get("host_other_cpu_share")) is not None and share > CONTENDED_SHARE
    )
    # load points measured by a client that could not keep up, sweeps' knees, what sessions' prefixes saved
    warn([n for row in view.load for n in point_notes(row)] + session_notes(view.load))
    # evaluated with several requests in flight, or throttled by the endpoint
    warn(line for cell in view.cells for line in concurrency_notes(cell))
    for cell in view.cells:  # an API model's cost by what was billed: reasoning is output the user never sees
        if split := cost_split_text(cell.numbers):
            cost = _num(cell.numbers.get("cost_per_1k_requests_usd"), ".4f")
            console.print(f"  {terminal(cell.label)}: cost / 1k requests ${cost} = {split}")
    warn(truncation_lines(view.samples))  # items whose answer never came: the reasoning used every token
    # figures measured with native kernels turned off, or on a retry after a crash
    warn(line for cell in view.cells for line in cell.native_notes)
    for cell in view.cells:
        if cell.status != CellStatus.OK:
            # a reason can quote a server's error or a file name: print it as text, never as rich markup
            console.print(
                f"  [bold]{terminal(cell.model)}@{terminal(cell.profile)}[/]: {terminal(cell.status)} — {terminal(cell.reason)}"
            )


def _span(e: Estimate, fmt: str, unit: str = "") -> str:
    if e.low is None or e.high is None:
        return "—"
    return f"{_num(e.low, fmt)}–{_num(e.high, fmt)}{unit}"


# (projection figure, format, unit) of each column after the first three
SPANS = (
    ("decode_tps", ".1f", ""),
    ("prefill_tps", ".0f", ""),
    ("ttft_p95_s", ".3f", " s"),
    ("e2e_p95_s", ".2f", " s"),
    ("load_time_s", ".1f", ""),
)


def print_projections(console: Console, projections: Sequence[ProjectionRow]) -> None:
    """Projected figures in their own table: ranges, labelled, never beside measured numbers."""
    if not projections:
        return
    table = Table(title="projected from host (roofline; not measured)", header_style="bold")
    for name in ("model", "profile", "why projected", "decode tok/s", "prefill tok/s", "TTFT p95", "E2E p95", "load s"):
        table.add_column(name, justify="left" if name in ("model", "profile", "why projected") else "right")
    for p in projections:
        why = f"also emulated on {p.emulated_on}" if p.emulated_on else p.not_emulated_reason
        why = why.removeprefix("not emulated: ").removesuffix("; projected from host instead")
        if p.projected:
            figures = [_span(p.range(key), fmt, unit) for key, fmt, unit in SPANS]
            where = terminal(p.profile) + " [cyan](projected)[/]"
        else:
            where, figures = terminal(p.profile), ["not projected: " + terminal(p.reason), "", "", "", ""]
        table.add_row(terminal(p.model), where, terminal(why), *figures)
    console.print(table)


def print_recommendations(console: Console, recommendations: Sequence[Recommendation]) -> None:
    """One line per profile: what to run there, and how sure we are (projected picks say so)."""
    for r in recommendations:
        if r.choice is None:
            console.print(f"[bold]{terminal(r.profile)}[/]: no tier meets the constraints — {terminal(r.reason)}")
            continue
        label = f" [cyan](projected from {terminal(r.choice.projected_from)})[/]" if r.choice.projected_from else ""
        console.print(
            f"[bold]{terminal(r.profile)}[/]: run [bold]{terminal(r.choice.model)}[/]{label}; confidence {r.confidence}"
            + (f" — {terminal('; '.join(r.confidence_notes))}" if r.confidence_notes else "")
        )


def print_published(console: Console, rows: Sequence[PublishedComparison], label: str = "") -> None:
    """Measured scores beside the ones the models' authors published, where this run has both."""
    from harness.results.published import TOLERANCE

    if not rows:
        return
    table = Table(title=f"{label}published vs measured (agrees: within our 95% CI ± {TOLERANCE * 100:.0f} pts)")
    for name in (
        "model",
        "benchmark",
        "metric",
        "shots",
        "measured ±95% (n)",
        "published",
        "diff",
        "verdict",
        "source",
    ):
        table.add_column(name, justify="right" if name in ("shots", "published", "diff") else "left")
    for r in rows:
        interval = (
            f" [{r.ci_low * 100:.1f}–{r.ci_high * 100:.1f}]" if r.ci_low is not None and r.ci_high is not None else ""
        )
        table.add_row(
            terminal(f"{r.model}@{r.profile}"),
            terminal(r.benchmark),
            terminal(r.metric),
            str(r.shots),
            f"{r.measured * 100:.1f}{interval} (n={r.n})",
            f"{r.published * 100:.1f}",
            f"{r.difference * 100:+.1f}",
            r.verdict,
            terminal(f"{r.variant}: {r.source}"),
        )
    console.print(table)
