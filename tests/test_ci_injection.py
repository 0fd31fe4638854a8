"""``tierbench gate`` with hostile names: no injected GitHub workflow command, a JUnit file that parses.

Model, profile and task names, a cell's failure reason, a rule's name and the run's own path
all carry line breaks, ``::error::``/``::add-mask::`` and control characters. The gate runs as
a real process inside a simulated GitHub Actions job; every line it prints must be either ours
(an annotation we meant to write) or plain text that the runner cannot read as a command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from gate_runs import Cell, flip_correct, outcomes, write_rules, write_run

EVIL_MODEL = "nano\n::error::model-injected\r::add-mask::hidden"
EVIL_PROFILE = "host\x1b[2K\x00::warning::profile-injected"
EVIL_TASK = "arith\n::add-mask::task-injected\x07"
EVIL_REASON = "worker said:\n::error title=x::reason-injected\r\n##[error]legacy-injected\x0b\x1f"
RULES = """\
bootstrap_iterations: 200
rules:
  - metric: accuracy
    name: "acc\\n::error::rule-injected\\u2028::notice::sep"
    max_drop_points: 1
  - metric: peak_rss_mb
    name: "[bold]mem[/]\\r\\n::add-mask::rule"
    max_increase_pct: 5
"""
OUR_COMMANDS = ("::error title=", "::warning title=", "::notice title=")


@pytest.fixture(scope="module")
def gate_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("ci")
    items = outcomes(60, 0.6)
    cells = [
        Cell(model=EVIL_MODEL, profile=EVIL_PROFILE, tasks={EVIL_TASK: items}),
        Cell(model="mini", tier="mini", status="failed", reason=EVIL_REASON),
    ]
    worse = [
        Cell(model=EVIL_MODEL, profile=EVIL_PROFILE, tasks={EVIL_TASK: flip_correct(items, 20)}, peak_rss_mb=900),
        Cell(model="mini", tier="mini", status="failed", reason=EVIL_REASON),
    ]
    base = write_run(root / "base\n::error::path-injected", cells)
    run = write_run(root / "run\r::add-mask::path", worse)
    rules = write_rules(root / "gate.yaml", RULES)
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(root / "summary.md")}
    args = [str(run), "--baseline", str(base), "--rules", str(rules)]
    args += ["--junit", str(root / "gate.xml"), "--markdown", str(root / "gate.md")]
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "gate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return result, root


def test_no_line_is_an_injected_workflow_command(gate_output: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = gate_output
    assert result.returncode == 1, result.stdout + result.stderr
    # the runner splits on \r and \n and reads a command after leading whitespace
    lines = result.stdout.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    commands = [line.lstrip() for line in lines if line.lstrip().startswith(("::", "##["))]
    assert commands, "the failing gate must still annotate"
    for line in commands:
        assert line.startswith(OUR_COMMANDS), line
        assert "\x1b" not in line and "\x00" not in line, repr(line)
    assert "\x1b" not in result.stdout and "\x00" not in result.stdout
    assert "rule-injected" in result.stdout  # the names are shown, made harmless, not dropped


def test_junit_parses_and_keeps_the_names_visible(gate_output: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, root = gate_output
    tree = ET.parse(root / "gate.xml")
    names = [case.get("name", "") for case in tree.iter("testcase")]
    assert any("model-injected" in name for name in names), names
    assert all("\n" not in name and "\x00" not in name for name in names)


def test_markdown_rows_stay_rows(gate_output: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, root = gate_output
    for path in (root / "gate.md", root / "summary.md"):
        text = path.read_text(encoding="utf-8")
        assert not any(ord(c) < 32 and c != "\n" for c in text), path
        rows = [line for line in text.split("\n") if line.startswith("|")]
        assert all(line.endswith("|") for line in rows), rows
        assert not any(line.lstrip().startswith("::") for line in text.split("\n"))
