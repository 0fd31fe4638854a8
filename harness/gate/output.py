"""Every output of a gate report at once, as ``tierbench gate`` and ``tierbench ab`` give it:
JUnit, Markdown, the terminal summary (or one line) and GitHub Actions annotations."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from harness.errors import UserError
from harness.gate.describe import headline
from harness.gate.evaluate import GateReport
from harness.gate.github import publish
from harness.gate.junit import to_junit
from harness.gate.markdown import to_markdown
from harness.gate.text import print_summary
from harness.results.store import atomic_write_bytes


def _write(flag: str, path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot write there ({exc.strerror})") from None


def emit(report: GateReport, junit_path: Path | None, markdown_path: Path | None, quiet: bool) -> None:
    if junit_path is not None:
        _write("--junit", junit_path, to_junit(report))
    if markdown_path is not None:
        _write("--markdown", markdown_path, to_markdown(report).encode("utf-8"))
    if quiet:
        click.echo(headline(report))
    else:
        print_summary(report, Console(soft_wrap=False, width=max(Console().width, 120)))
    for line in publish(report):
        click.echo(line)
