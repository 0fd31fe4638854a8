"""The human-readable summary printed by ``tierbench gate``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.gate.describe import counted, headline, look, result_change, value_text
from harness.gate.evaluate import GateReport
from harness.safetext import one_line, terminal


def print_summary(report: GateReport, console: Console) -> None:
    """A table of every verdict, the reason for each, and the overall status.

    Names, reasons and paths are user or model text: each is shown on one line with control
    characters made visible, so none can start a line of its own (a GitHub workflow command).
    The title is a plain unwrapped line rather than a table title, which rich would wrap anywhere.
    """
    title = f"tierbench gate: {one_line(report.run_source)} vs {one_line(report.baseline_source)}"
    console.print(title, highlight=False, markup=False, soft_wrap=True)
    table = Table()
    for column in ("rule", "cell", "verdict", "baseline", "run", "change", "n"):
        table.add_column(column, overflow="fold")
    for result in report.results:
        shown = look(result, report)
        style = shown.style
        if result.verdict == "inconclusive" and not report.fails(result):
            style = "yellow dim"
        table.add_row(
            terminal(result.rule.label),
            terminal(f"{result.tier}: {result.model}@{result.profile}"),
            f"[{style}]{shown.label}[/]" if style else shown.label,
            value_text(result.measure.base_value, result),
            value_text(result.measure.run_value, result),
            result_change(result, report.settings.level),
            counted(result),
        )
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
