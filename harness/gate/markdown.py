"""Markdown for a CI step summary or a pull-request comment."""

from __future__ import annotations

from harness.gate.describe import figures, headline, look
from harness.gate.evaluate import GateReport, RuleResult
from harness.safetext import one_line


def _cell(text: str) -> str:
    # reasons can quote model output or server errors: no raw HTML in a rendered step summary,
    # no line break that ends the table row, no control character (shown as an escape instead)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return one_line(text.replace("|", "\\|").replace("\r\n", " ").replace("\r", " ").replace("\n", " "))


def _code(text: str) -> str:
    """User text inside a code span: a backtick in it would end the span early."""
    return "`" + _cell(text).replace("`", "'") + "`"


def _row(result: RuleResult, report: GateReport) -> str:
    shown = look(result, report)
    where = f"{result.tier}: {result.model}@{result.profile}"
    cells = [f"{shown.icon} {shown.label}", _code(result.rule.label), where, *figures(result, report.settings.level)]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def to_markdown(report: GateReport) -> str:
    """A heading with the overall status, a table of verdicts and the reason for each non-pass."""
    level = report.settings.level
    lines = [
        f"## tierbench gate: {'✅' if report.passed else '❌'} {headline(report)}",
        "",
        f"Run {_code(report.run_source)} against baseline {_code(report.baseline_source)} "
        f"({round(level * 100)}% confidence, {report.settings.bootstrap_iterations} bootstrap resamples).",
        "",
        "| verdict | rule | cell | baseline | run | change | n |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r, report) for r in report.results]
    explained = [r for r in report.results if r.verdict != "no_significant_change"]
    if explained:
        lines += ["", "### Details", ""]
        lines += [f"- **{_cell(r.name)}** — {look(r, report).label}: {_cell(r.reason)}" for r in explained]
    if report.warnings:
        lines += ["", *[f"> warning: {_cell(w)}" for w in report.warnings]]
    return "\n".join(lines) + "\n"
