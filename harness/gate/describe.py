"""Shared wording of verdicts and values for every output format."""

from __future__ import annotations

import math
from typing import NamedTuple

from harness.gate.evaluate import GateReport, RuleResult, change_text, format_value


class Look(NamedTuple):
    """How a verdict is shown in every output format."""

    label: str
    icon: str  # Markdown
    style: str  # rich markup in the terminal


VERDICT_LOOKS: dict[str, Look] = {
    "regressed": Look("REGRESSED", "❌", "bold red"),
    "not_comparable": Look("NOT COMPARABLE", "⛔", "bold red"),
    "inconclusive": Look("INCONCLUSIVE", "⚠️", "yellow"),
    "improved": Look("improved", "✅", "green"),
    "no_significant_change": Look("no significant change", "➖", ""),
    "not_applicable": Look("not applicable", "⏭️", "dim"),
}
VERDICT_LABELS = {verdict: look.label for verdict, look in VERDICT_LOOKS.items()}
# a speed rule across different hardware: not comparable, but shown like not applicable (it was not
# applied) unless the rules make it fail (other_hardware: fail)
NOT_APPLIED = Look("not comparable", VERDICT_LOOKS["not_applicable"].icon, VERDICT_LOOKS["not_applicable"].style)


def look(result: RuleResult, report: GateReport) -> Look:
    """How one verdict is shown: by its verdict, or as not applied when it was withheld and does not fail."""
    if result.other_hardware and not report.fails(result):
        return NOT_APPLIED
    return VERDICT_LOOKS[result.verdict]


def value_text(value: float | None, result: RuleResult) -> str:
    """A metric value in its unit (accuracy as a percentage); an em dash when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format_value(value, result.info)


def figures(result: RuleResult, level: float) -> tuple[str, str, str, str]:
    """The baseline, run, change and n (items or requests each side rests on) of every output format."""
    m = result.measure
    change = change_text(m.change, result.info, level) if m.change is not None else "—"
    counted = ""
    if result.info.source != "cells" and (m.n_run or m.n_base):
        counted = f"{m.n_base}→{m.n_run} {'items' if result.info.is_accuracy else 'requests'}"
    return value_text(m.base_value, result), value_text(m.run_value, result), change, counted


def headline(report: GateReport) -> str:
    """``FAIL: 1 regressed, 1 inconclusive of 6 checks`` or ``PASS: 6 checks``."""
    counts = report.counts()
    parts = [f"{n} {VERDICT_LABELS[v].lower()}" for v, n in counts.items() if n]
    status = "PASS" if report.passed else "FAIL"
    return f"{status}: {', '.join(parts)} ({len(report.results)} checks)"
