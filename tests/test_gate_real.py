"""The gate on real runs of the nano model: unchanged passes, a degraded configuration fails on
the right rule, a tiny run is inconclusive, and bad inputs exit 2 with one line.

The baseline is the session's shared ``nano_run``; this module adds two runs with the same
suite, tasks and limit: the same configuration again, and one whose catalog points 'nano' at
another GGUF.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.results import RunStore
from harness.suites import load_suite

pytestmark = pytest.mark.slow

Tierbench = Callable[..., subprocess.CompletedProcess[str]]
DATA = Path(__file__).resolve().parent / "data"


def _run_args(out: Path) -> list[str]:
    """The same suite, model, tasks and limit as the shared ``nano_run`` fixture."""
    tasks = ",".join(load_suite("quick").tasks)
    return ["run", "--suite", str(DATA / "tiny-suite.yaml"), "--models", "nano", "--tasks", tasks,
            "--limit", "5", "--no-report", "--out", str(out)]  # fmt: skip


@pytest.fixture(scope="module")
def gate_runs(nano_run: Path, tierbench: Tierbench, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gate")
    baseline = root / "baseline.json.gz"
    saved = tierbench("baseline", "save", str(nano_run), "--to", str(baseline))
    assert saved.returncode == 0, saved.stderr
    runs = {"baseline": baseline, "root": root}
    for name, extra in (("same", []), ("degraded", ["--catalog", str(DATA / "gate-degraded-catalog.yaml")])):
        result = tierbench(*_run_args(root / name), *extra)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        runs[name] = root / name
    for name, path in (("baseline", nano_run), ("same", runs["same"]), ("degraded", runs["degraded"])):
        cells = RunStore.open(path).read_table("cells")
        assert list(cells["status"]) == ["ok"], f"{name} run: {cells[['status', 'reason']].to_dict('records')}"
    return runs


def test_same_model_twice_passes(gate_runs: dict[str, Path], tierbench: Tierbench) -> None:
    result = tierbench("gate", str(gate_runs["same"]), "--baseline", str(gate_runs["baseline"]),
                       "--rules", str(DATA / "gate-real.yaml"))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "REGRESSED" not in result.stdout


def test_degraded_configuration_fails_on_memory_with_reports(gate_runs: dict[str, Path], tierbench: Tierbench) -> None:
    junit, markdown = gate_runs["root"] / "gate.xml", gate_runs["root"] / "gate.md"
    result = tierbench("gate", str(gate_runs["degraded"]), "--baseline", str(gate_runs["baseline"]),
                       "--rules", str(DATA / "gate-real.yaml"), "--junit", str(junit), "--markdown", str(markdown),
                       env={"GITHUB_ACTIONS": "true"})  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ peak_rss_mb [nano: nano@host]: REGRESSED" in result.stdout
    assert "params.model_file" in result.stdout  # the warning says what changed in the catalog
    assert "::error title=tierbench gate%3A peak_rss_mb [nano%3A nano@host] REGRESSED::" in result.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"accuracy [nano: nano@host]", "peak_rss_mb [nano: nano@host]", "e2e_p95 [nano: nano@host]"}
    failure = cases["peak_rss_mb [nano: nano@host]"].find("failure")
    assert failure is not None and failure.get("type") == "regressed"
    assert "beyond the 10% tolerance" in (failure.get("message") or "")
    text = markdown.read_text(encoding="utf-8")
    assert "❌ FAIL" in text and "| ❌ REGRESSED | `peak_rss_mb` | nano: nano@host |" in text


def test_tiny_item_count_is_inconclusive_not_pass(gate_runs: dict[str, Path], tierbench: Tierbench) -> None:
    result = tierbench("gate", str(gate_runs["same"]), "--baseline", str(gate_runs["baseline"]),
                       "--rules", str(DATA / "gate-strict.yaml"))  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INCONCLUSIVE" in result.stdout and "(min_items is 100)" in result.stdout
    assert "PASS" not in result.stdout


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing baseline", "file not found; create it with 'tierbench baseline save"),
        ("corrupt baseline", "corrupted or not a tierbench baseline"),
        ("unknown metric", "unknown metric 'ttft_p42'"),
        ("tier not in run", "tier 'mini' is not in the run (run has: nano)"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    gate_runs: dict[str, Path], tierbench: Tierbench, tmp_path: Path, case: str, message: str
) -> None:
    baseline, rules = gate_runs["baseline"], DATA / "gate-real.yaml"
    if case == "missing baseline":
        baseline = tmp_path / "nope.json.gz"
    elif case == "corrupt baseline":
        baseline = tmp_path / "corrupt.json.gz"
        baseline.write_bytes(gate_runs["baseline"].read_bytes()[:-40])
    elif case == "unknown metric":
        rules = tmp_path / "gate.yaml"
        rules.write_text("rules:\n  - metric: ttft_p42\n    max_increase_pct: 10\n")
    elif case == "tier not in run":
        rules = tmp_path / "gate.yaml"
        rules.write_text("rules:\n  - metric: accuracy\n    tier: mini\n    max_drop_points: 1\n")
    result = tierbench("gate", str(gate_runs["same"]), "--baseline", str(baseline), "--rules", str(rules))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
