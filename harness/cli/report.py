"""``tierbench report RUN_DIR``: (re)write report.html and report.md from a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from harness.safetext import one_line


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="Another run directory; the report adds deltas against it with significance markers.",
)
def command(run_dir: Path, baseline: Path | None) -> None:
    """Write RUN_DIR/report.html (self-contained, offline) and RUN_DIR/report.md; print their paths."""
    from harness.api import report

    paths = report(run_dir, baseline=baseline)
    click.echo(one_line(paths.html))  # a path is user text: one line, never a workflow command
    click.echo(one_line(paths.markdown))
