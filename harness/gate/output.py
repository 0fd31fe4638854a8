"""Every output of a gate report at once, as ``tierbench gate`` and ``tierbench ab`` give it:
JUnit, Markdown, the terminal summary (or one line) and GitHub Actions annotations."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from harness.gate.describe import headline
from harness.gate.evaluate import GateReport
from harness.gate.github import publish
from harness.gate.junit import write_junit
from harness.gate.markdown import write_markdown
from harness.gate.text import print_summary


def emit(report: GateReport, junit_path: Path | None, markdown_path: Path | None, quiet: bool) -> None:
    if junit_path is not None:
        write_junit(report, junit_path)
    if markdown_path is not None:
        write_markdown(report, markdown_path)
    if quiet:
        click.echo(headline(report))
    else:
        print_summary(report, Console(soft_wrap=False, width=max(Console().width, 120)))
    for line in publish(report):
        click.echo(line)
