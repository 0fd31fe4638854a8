"""JUnit XML: one test case per rule and cell, so CI test tabs list every check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.gate.describe import VERDICT_LABELS, figures, look
from harness.gate.evaluate import GateReport, RuleResult
from harness.safetext import xml_text


def _details(result: RuleResult, level: float) -> str:
    base, run, change, counted = figures(result, level)
    lines = [
        f"verdict: {VERDICT_LABELS[result.verdict]}",
        f"reason: {result.reason}",
        f"baseline: {base}",
        f"run: {run}",
        f"change: {change}",
        *([f"n: {counted}"] if counted else []),
        *(f"note: {note}" for note in result.measure.notes),
    ]
    return xml_text("\n".join(lines), multiline=True)


def _skipped(result: RuleResult) -> bool:
    """A check that was not judged (too little data, a rule the cell cannot meet by construction, or a
    speed rule between runs on different hardware)."""
    return result.verdict in ("inconclusive", "not_applicable") or result.other_hardware


def to_junit(report: GateReport) -> bytes:
    """``<testsuites><testsuite name="tierbench gate">`` with a ``<testcase>`` per verdict."""
    skipped = sum(1 for r in report.results if _skipped(r) and not report.fails(r))
    totals = {"name": "tierbench gate", "tests": str(len(report.results)), "failures": str(len(report.failures))}
    root = ET.Element("testsuites", totals)
    suite = ET.SubElement(root, "testsuite", {**totals, "errors": "0", "skipped": str(skipped)})
    properties = ET.SubElement(suite, "properties")
    level = report.settings.level
    for name, value in {"run": report.run_source, "baseline": report.baseline_source, "level": f"{level:g}"}.items():
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    for result in report.results:
        classname = xml_text(f"tierbench.gate.{result.tier}")
        case = ET.SubElement(suite, "testcase", classname=classname, name=xml_text(result.name), time="0")
        if report.fails(result):
            message = xml_text(f"{VERDICT_LABELS[result.verdict]}: {result.reason}")
            failure = ET.SubElement(case, "failure", message=message)
            failure.set("type", result.verdict)
            failure.text = _details(result, level)
        elif _skipped(result):
            label = look(result, report).label.lower()
            ET.SubElement(case, "skipped", message=xml_text(f"{label}: {result.reason}"))
        ET.SubElement(case, "system-out").text = _details(result, level)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
