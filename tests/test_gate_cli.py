"""``tierbench gate`` end to end on synthetic runs: exit codes, JUnit, Markdown, GitHub output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from gate_runs import Cell, flip_correct, outcomes, write_rules, write_run

from harness.cli.main import cli
from harness.gate.baseline import save

RULES = """\
bootstrap_iterations: 500
rules:
  - metric: accuracy
    max_drop_points: 1
  - metric: ttft_p95
    max_increase_pct: 10
  - metric: peak_rss_mb
    tier: nano
    max_increase_pct: 5
"""


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    base_items = outcomes(60, 0.6)
    base = write_run(tmp_path / "base", [Cell(tasks={"arith": base_items}, latency_seed=1)])
    same = write_run(tmp_path / "same", [Cell(tasks={"arith": base_items}, latency_seed=2)])
    worse = write_run(tmp_path / "worse", [Cell(tasks={"arith": flip_correct(base_items, 15)}, latency_seed=3)])
    save(base, tmp_path / "base.json.gz")
    return {
        "base": tmp_path / "base.json.gz",
        "same": same,
        "worse": worse,
        "rules": write_rules(tmp_path / "gate.yaml", RULES),
    }


def _gate(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["gate", *map(str, args)], env=env or {"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": ""}
    )
    return result.exit_code, result.output


def test_unchanged_run_passes(runs: dict[str, Path]) -> None:
    code, output = _gate(runs["same"], "--baseline", runs["base"], "--rules", runs["rules"])
    assert code == 0, output
    assert "PASS" in output and "3 no significant change" in output


def test_regression_exits_1_and_writes_junit_and_markdown(runs: dict[str, Path], tmp_path: Path) -> None:
    junit, markdown = tmp_path / "out" / "gate.xml", tmp_path / "out" / "gate.md"
    code, output = _gate(
        runs["worse"], "--baseline", runs["base"], "--rules", runs["rules"], "--junit", junit, "--markdown", markdown
    )
    assert code == 1
    assert "FAIL: 1 regressed" in output and "accuracy [nano: nano@host]: REGRESSED" in output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "accuracy [nano: nano@host]",
        "ttft_p95 [nano: nano@host]",
        "peak_rss_mb [nano: nano@host]",
    ]
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["accuracy [nano: nano@host]"]
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("type") == "regressed" and "-25.0 pts" in (failure.get("message") or "")
    assert suite.get("failures") == "1" and suite.get("tests") == "3"
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("## tierbench gate: ❌ FAIL")
    assert "| ❌ REGRESSED | `accuracy` | nano: nano@host | 60.0% | 35.0% | -25.0 pts" in text


def test_github_actions_annotations_and_step_summary(runs: dict[str, Path], tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    code, output = _gate(
        runs["worse"],
        "--baseline",
        runs["base"],
        "--rules",
        runs["rules"],
        "--quiet",
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=tierbench gate%3A accuracy [nano%3A nano@host] REGRESSED::")
    content = summary.read_text(encoding="utf-8")
    assert content.startswith("earlier step\n## tierbench gate")


def test_run_directory_as_baseline(runs: dict[str, Path], tmp_path: Path) -> None:
    code, _ = _gate(runs["same"], "--baseline", tmp_path / "base", "--rules", runs["rules"])
    assert code == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing baseline", "file not found; create it with 'tierbench baseline save"),
        ("corrupt baseline", "corrupted or not a tierbench baseline"),
        ("unknown metric", "field 'rules.0.metric': Value error, unknown metric 'acuracy'"),
        ("tier not in run", "tier 'mini' is not in the run (run has: nano)"),
        ("missing run", "no such run directory"),
        ("missing rules", "gate.yaml: file not found"),
    ],
)
def test_input_errors_exit_2_with_one_line(runs: dict[str, Path], tmp_path: Path, change: str, message: str) -> None:
    run, base, rules = runs["same"], runs["base"], runs["rules"]
    if change == "missing baseline":
        base = tmp_path / "absent.json.gz"
    elif change == "corrupt baseline":
        base.write_bytes(base.read_bytes()[:100])
    elif change == "unknown metric":
        rules.write_text("rules:\n  - metric: acuracy\n    max_drop_points: 1\n")
    elif change == "tier not in run":
        rules.write_text("rules:\n  - metric: accuracy\n    tier: mini\n    max_drop_points: 1\n")
    elif change == "missing run":
        run = tmp_path / "no-run"
    elif change == "missing rules":
        rules.unlink()
    code, output = _gate(run, "--baseline", base, "--rules", rules)
    assert code == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], output


def test_help_runs() -> None:
    for args in (
        ["gate", "--help"],
        ["baseline", "--help"],
        ["baseline", "save", "--help"],
        ["baseline", "show", "--help"],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output
