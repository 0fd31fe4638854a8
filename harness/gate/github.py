"""GitHub Actions: workflow-command annotations and the job's step summary.

Annotations are ``::error title=...::message`` lines on stdout; GitHub reads them only when
``GITHUB_ACTIONS=true``. Data and property values are escaped as the runner expects.
"""

from __future__ import annotations

import contextlib
import os

from harness.gate.describe import VERDICT_LABELS
from harness.gate.evaluate import GateReport
from harness.gate.markdown import to_markdown
from harness.safetext import one_line


def escape_data(text: str) -> str:
    """As GitHub's toolkit escapes a command's message; other control characters are made visible."""
    return one_line(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    """A property value: the message escapes plus ``:`` and ``,``, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(report: GateReport) -> list[str]:
    """One ``::error`` per failing verdict, ``::warning`` for a tolerated inconclusive, ``::notice`` per improvement."""
    lines = []
    for result in report.results:
        command = (
            "error" if report.fails(result) else {"inconclusive": "warning", "improved": "notice"}.get(result.verdict)
        )
        if command is None:
            continue
        title = escape_property(f"tierbench gate: {result.name} {VERDICT_LABELS[result.verdict]}")
        lines.append(f"::{command} title={title}::{escape_data(result.reason)}")
    return lines


def publish(report: GateReport) -> list[str]:
    """Inside GitHub Actions: append the Markdown to the step summary; return annotation lines to print."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # a courtesy: when it cannot be written, the exit code and annotations still carry the verdict
        with contextlib.suppress(OSError), open(summary, "a", encoding="utf-8") as handle:
            handle.write(to_markdown(report))
    return annotation_lines(report) if os.environ.get("GITHUB_ACTIONS") == "true" else []
