"""``tierbench report RUN_DIR``: (re)write report.html and report.md from a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from harness.errors import UserError
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
    from harness.report import write_report
    from harness.results import RunStore

    RunStore.open(run_dir)
    if baseline is not None:
        if baseline.resolve() == run_dir.resolve():
            raise UserError(f"--baseline {baseline}: is the run itself; name a different run directory")
        try:
            RunStore.open(baseline)
        except UserError as exc:
            raise UserError(f"--baseline: {exc}") from None
    paths = write_report(run_dir, baseline=baseline)
    click.echo(one_line(paths.html))  # a path is user text: one line, never a workflow command
    click.echo(one_line(paths.markdown))
