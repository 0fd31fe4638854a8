"""``tierbench compare A B``: what changed from run A (baseline) to run B, with significance."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.safetext import one_line, terminal


@click.command("compare")
@click.argument("baseline_dir", metavar="A", type=click.Path(path_type=Path))
@click.argument("current_dir", metavar="B", type=click.Path(path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="Also list untested rows (memory, energy, cost).")
def command(baseline_dir: Path, current_dir: Path, show_all: bool) -> None:
    """Deltas of run B against baseline run A: ▲ significantly better, ▼ worse, ≈ within noise.

    The tests are the gate's: accuracy by McNemar's mid-p test on the items both runs scored
    (paired-bootstrap interval), latency by a bootstrap over requests stratified by scenario point.
    """
    from harness.api import compare
    from harness.report.formatting import fmt

    result = compare(baseline_dir, current_dir)
    comparison = result.comparison
    console = Console() if Console().is_terminal else Console(width=160)
    table = Table(title=terminal(f"{comparison.current_name} vs baseline {comparison.baseline_name}"))
    for column in ("Model", "Profile", "Metric", "A", "B", "Change", "95% CI", "p", "Verdict"):
        table.add_column(column, justify="right" if column in ("A", "B", "Change", "p") else "left")
    for d in comparison.rows:
        if d.significant is None and not show_all:
            continue
        table.add_row(
            terminal(d.model),
            terminal(d.profile),
            terminal(d.metric),
            fmt(d.baseline, d.kind),
            fmt(d.current, d.kind),
            terminal(f"{d.marker} {d.change_text}"),
            terminal(d.ci_text or "—"),
            fmt(d.p_value, "pvalue"),
            terminal(d.verdict_text),
            style={"better": "green", "worse": "red"}.get(d.verdict, ""),
        )
    console.print(table)
    for label, items in (
        ("Only in B", comparison.only_current),
        ("Only in A", comparison.only_baseline),
        ("Not compared", comparison.not_compared),
    ):
        if items:
            console.print(f"{label}: {one_line('; '.join(items))}", markup=False, highlight=False)
    from harness.cli.summary_table import print_published

    for label, view in (("A", result.baseline), ("B", result.current)):
        print_published(console, view.published, label=f"{label}: ")
    console.print(
        f"{len(comparison.improvements)} significantly better, {len(comparison.regressions)} significantly worse "
        "(▲ better, ▼ worse, * p<0.05, ** p<0.01, ≈ no significant change)."
    )
