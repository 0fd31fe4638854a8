"""JUnit XML: one test case per rule and cell, so CI test tabs list every check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import UserError
from harness.gate.describe import VERDICT_LABELS, counted, look, result_change, value_text
from harness.gate.evaluate import GateReport, RuleResult
from harness.results.store import atomic_write_bytes
from harness.safetext import xml_text


def _details(result: RuleResult, level: float) -> str:
    lines = [
        f"verdict: {VERDICT_LABELS[result.verdict]}",
        f"reason: {result.reason}",
        f"baseline: {value_text(result.measure.base_value, result)}",
        f"run: {value_text(result.measure.run_value, result)}",
        f"change: {result_change(result, level)}",
    ]
    if counted(result):
        lines.append(f"n: {counted(result)}")
    lines.extend(f"note: {note}" for note in result.measure.notes)
    return xml_text("\n".join(lines), multiline=True)


def _skipped(result: RuleResult) -> bool:
    """A check that was not judged (too little data, a rule the cell cannot meet by construction, or a
    speed rule between runs on different hardware)."""
    return result.verdict in ("inconclusive", "not_applicable") or result.other_hardware


def to_xml(report: GateReport) -> ET.Element:
    """``<testsuites><testsuite name="tierbench gate">`` with a ``<testcase>`` per verdict."""
    failures = len(report.failures)
    skipped = sum(1 for r in report.results if _skipped(r) and not report.fails(r))
    totals = {"name": "tierbench gate", "tests": str(len(report.results)), "failures": str(failures)}
    root = ET.Element("testsuites", totals)
    suite = ET.SubElement(root, "testsuite", {**totals, "errors": "0", "skipped": str(skipped)})
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", report.run_source),
        ("baseline", report.baseline_source),
        ("level", f"{report.settings.level:g}"),
    ):
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    level = report.settings.level
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
    return root


def write_junit(report: GateReport, path: Path) -> None:
    data = ET.tostring(to_xml(report), encoding="utf-8", xml_declaration=True)
    try:
        atomic_write_bytes(path, data + b"\n")
    except OSError as exc:
        raise UserError(f"--junit {path}: cannot write there ({exc.strerror})") from None
