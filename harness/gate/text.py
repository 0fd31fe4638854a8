"""The human-readable summary printed by ``tierbench gate``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.gate.describe import figures, headline, look
from harness.gate.evaluate import GateReport
from harness.safetext import one_line, terminal


def print_summary(report: GateReport, console: Console) -> None:
    """A table of every verdict, the reason for each, and the overall status. User and model text is shown
    on one line with control characters made visible, so none can start a line of its own (a GitHub
    workflow command); the title is a plain line, as rich would wrap a table title anywhere."""
    title = f"tierbench gate: {one_line(report.run_source)} vs {one_line(report.baseline_source)}"
    console.print(title, highlight=False, markup=False, soft_wrap=True)
    table = Table()
    for column in ("rule", "cell", "verdict", "baseline", "run", "change", "n"):
        table.add_column(column, overflow="fold")
    for result in report.results:
        shown = look(result, report)
        style = "yellow dim" if result.verdict == "inconclusive" and not report.fails(result) else shown.style
        label = f"[{style}]{shown.label}[/]" if style else shown.label
        where = terminal(f"{result.tier}: {result.model}@{result.profile}")
        table.add_row(terminal(result.rule.label), where, label, *figures(result, report.settings.level))
    console.print(table)
    for result in report.results:  # every verdict explains itself, one line each
        marker = "✗" if report.fails(result) else "•"
        line = f"{marker} {one_line(result.name)}: {look(result, report).label} — {one_line(result.reason)}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)
        for note in result.measure.notes:
            console.print(f"    - {one_line(note)}", highlight=False, markup=False, style="dim", soft_wrap=True)
    for warning in report.warnings:
        console.print(f"warning: {one_line(warning)}", highlight=False, markup=False, style="yellow", soft_wrap=True)
    style = "bold green" if report.passed else "bold red"
    console.print(f"[{style}]{headline(report)}[/]", highlight=False)
