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
from gate_runs import shipped_rules
from run_tables import NANO_RUN_TASKS, assert_ran

import harness
from harness.results import RunStore

pytestmark = pytest.mark.slow

Tierbench = Callable[..., subprocess.CompletedProcess[str]]
DATA = Path(__file__).resolve().parent / "data"


def _run(out: Path, catalog: Path | None = None) -> Path:
    """The same suite, model, tasks and limit as the shared ``nano_run`` fixture."""
    suite = str(DATA / "tiny-suite.yaml")
    return assert_ran(
        harness.run(suite=suite, models=["nano"], tasks=NANO_RUN_TASKS, limit=5, catalog=catalog, report=False, out=out)
    )


@pytest.fixture(scope="module")
def gate_runs(nano_run: Path, tierbench: Tierbench, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gate")
    baseline = root / "baseline.json.gz"
    saved = tierbench("baseline", "save", str(nano_run), "--to", str(baseline))
    assert saved.returncode == 0, saved.stderr
    runs = {"baseline": baseline, "root": root}
    runs["same"] = _run(root / "same")
    runs["degraded"] = _run(root / "degraded", DATA / "gate-degraded-catalog.yaml")
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


# compare's verdict words for the gate's, on a rule with zero tolerance
_SAME_VERDICT = {"better": {"improved"}, "worse": {"regressed"}, "no significant change": {"no_significant_change"}}


@pytest.mark.parametrize("other", ["same", "degraded"])
def test_compare_and_gate_agree_on_every_shared_metric(gate_runs: dict[str, Path], nano_run: Path, other: str) -> None:
    """The same two real runs through ``compare`` and through the gate: same intervals, same verdicts."""
    from harness.config.rules import GateRules, StatSettings
    from harness.gate import evaluate, from_run
    from harness.report.compare import compare_views
    from harness.report.view import build_view

    settings = StatSettings(min_items=5, min_requests=2, bootstrap_iterations=500)
    comparison = compare_views(build_view(gate_runs[other]), build_view(nano_run), settings)
    tested = [row for row in comparison.rows if row.gate_metric]
    assert {row.gate_metric for row in tested} >= {"accuracy", "e2e_p50", "e2e_p95", "ttft_p95"}
    rules = [
        {"metric": row.gate_metric, "max_drop_points" if row.mode == "diff" else "max_increase_pct": 0}
        for row in tested
    ]
    gate = evaluate(from_run(gate_runs[other]), from_run(nano_run), GateRules(**settings.model_dump(), rules=rules))
    verdicts = {r.rule.metric: r for r in gate.results}
    assert any(row.direction is not None for row in tested), [row.note for row in tested]
    for row in tested:
        result = verdicts[row.gate_metric]
        if row.direction is None:
            assert result.verdict in ("inconclusive", "not_comparable"), (row.gate_metric, row.note, result.reason)
            continue
        change = result.measure.change
        assert change is not None
        bounds = (change.diff_low, change.diff_high) if row.mode == "diff" else (change.ratio_low, change.ratio_high)
        assert (row.low, row.high) == bounds and row.p_value == change.p_value, row.gate_metric
        if result.reason.startswith("host contended"):  # the gate withholds a timing verdict from a busy host
            assert result.verdict == "inconclusive" and row.gate_metric != "accuracy", result.reason
            continue
        assert result.verdict in _SAME_VERDICT[row.verdict], (row.gate_metric, row.verdict, result.reason)


def test_data_dir_comes_from_the_environment(tierbench: Tierbench, shared_benchmarks: Path, tmp_path: Path) -> None:
    """TIERBENCH_DATA_DIR stands in for --data-dir; meta.json records it for --resume."""
    out = tmp_path / "env-run"
    result = tierbench("run", "--suite", str(DATA / "tiny-suite.yaml"), "--models", "nano", "--tasks", "piqa",
                       "--limit", "5", "--no-report", "--out", str(out),
                       env={"TIERBENCH_DATA_DIR": str(shared_benchmarks)})  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    store = RunStore.open(out)
    scores = store.read_table("scores")
    assert set(scores["task"]) == {"piqa"} and set(scores["n"]) == {5}
    meta = store.read_meta()
    assert meta.options.data_dir == str(shared_benchmarks.resolve())
    assert meta.backends["nano@host"]["model_file"].endswith(".gguf")  # Backend.describe(), kept in meta.json
    assert (store.read_table("cells")["cpu_time_s"] > 0).all()


@pytest.mark.parametrize("source", sorted(shipped_rules()))
def test_the_tiers_run_gated_against_itself_passes_every_shipped_rules_file(
    source: str, tiers_run: Path, tierbench: Tierbench, tmp_path: Path
) -> None:
    """The default tiers (live cascade included) on the quick suite's scenario, saved as a baseline and
    gated against itself: a rule a tier cannot meet by construction is not applied, nothing fails."""
    baseline = tmp_path / "base.json.gz"
    assert tierbench("baseline", "save", str(tiers_run), "--to", str(baseline)).returncode == 0
    rules = tmp_path / "rules.yaml"
    rules.write_text(shipped_rules()[source], encoding="utf-8")
    result = tierbench("gate", str(tiers_run), "--baseline", str(baseline), "--rules", str(rules))
    assert result.returncode == 0, f"{source}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    assert "PASS" in result.stdout
