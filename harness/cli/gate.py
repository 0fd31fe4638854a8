"""``tierbench gate``: fail CI when a run regressed against its baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("gate")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    "baseline_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Baseline file from 'tierbench baseline save' (or a run directory).",
)
@click.option(
    "--rules",
    "rules_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Gate rules YAML (see examples/gate.yaml).",
)
@click.option(
    "--junit", "junit_path", type=click.Path(path_type=Path), help="Write JUnit XML here (one case per rule × cell)."
)
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path), help="Write a Markdown summary here.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the one-line verdict.")
def command(
    run_dir: Path,
    baseline_path: Path,
    rules_path: Path,
    junit_path: Path | None,
    markdown_path: Path | None,
    quiet: bool,
) -> None:
    """Compare RUN with a baseline under the rules in a gate file.

    \b
    Exit codes: 0 every rule passed; 1 a rule regressed, is not comparable, or is
    inconclusive (unless the rules say on_inconclusive: warn); 2 usage or input error.
    Inside GitHub Actions it also prints annotations and appends the Markdown summary
    to $GITHUB_STEP_SUMMARY.
    """
    from harness.api import gate
    from harness.gate.output import emit

    report = gate(run_dir, baseline_path, rules_path)
    emit(report, junit_path, markdown_path, quiet)
    sys.exit(report.exit_code)
