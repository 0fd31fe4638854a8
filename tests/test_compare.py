"""Run-to-run deltas with significance: the statistics, the shared comparison, and both CLIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_runs import make_run

from harness.cli.main import cli
from harness.report.compare import compare_views
from harness.report.view import build_view
from harness.stats import direction


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    return {
        "base": make_run(root / "base", seed=7),
        "same": make_run(root / "same", seed=7),
        "changed": make_run(root / "changed", seed=7, accuracy_shift=0.3, latency_scale=1.8),
    }


def test_a_verdict_needs_the_test_and_the_whole_interval_on_one_side() -> None:
    # latency ratio (lower is better): wholly above 1 and significant is worse
    assert direction(1.1, 1.3, 0.01, neutral=1.0, significance=0.05, worse_if_above=True) == -1
    assert direction(0.7, 0.9, 0.01, neutral=1.0, significance=0.05, worse_if_above=True) == 1
    # accuracy difference (higher is better): an interval across 0, or a large p, is no verdict
    assert direction(-0.02, 0.05, 0.01, neutral=0.0, significance=0.05, worse_if_above=False) == 0
    assert direction(0.02, 0.05, 0.2, neutral=0.0, significance=0.05, worse_if_above=False) == 0
    assert direction(0.02, 0.05, None, neutral=0.0, significance=0.05, worse_if_above=False) == 0


def test_identical_runs_show_no_significant_change(runs: dict[str, Path]) -> None:
    comparison = compare_views(build_view(runs["same"]), build_view(runs["base"]))
    tested = [r for r in comparison.rows if r.significant is not None]
    assert tested and not comparison.regressions and not comparison.improvements
    assert all(r.marker == "≈" for r in tested)


def test_better_accuracy_and_slower_latency_are_flagged(runs: dict[str, Path]) -> None:
    comparison = compare_views(build_view(runs["changed"]), build_view(runs["base"]))
    piqa = next(
        r for r in comparison.rows if r.model == "nano" and r.profile == "laptop" and r.metric.startswith("piqa")
    )
    assert piqa.verdict == "better" and piqa.marker.startswith("▲") and "McNemar" in piqa.test
    latency = next(r for r in comparison.rows if r.model == "mini" and r.metric == "p95 E2E latency")
    assert latency.verdict == "worse" and latency.marker.startswith("▼") and latency.change_text.startswith("×1.8")
    assert any("failed in the baseline, failed now" in n for n in comparison.not_compared)


def test_unmatched_items_are_not_compared(runs: dict[str, Path], tmp_path: Path) -> None:
    other = make_run(tmp_path / "other", seed=7, accuracy_shift=0.3)
    records = [json.loads(line) for line in (other / "samples.jsonl").read_text().splitlines()]
    (other / "samples.jsonl").write_text(
        "".join(json.dumps({**r, "doc_id": f"z{r['doc_id']}"}) + "\n" for r in records)
    )
    comparison = compare_views(build_view(other), build_view(runs["base"]))
    piqa = next(r for r in comparison.rows if r.metric.startswith("piqa"))
    assert piqa.verdict == "not tested" and "items differ" in piqa.note


def test_compare_cli_and_report_baseline(runs: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["compare", str(runs["base"]), str(runs["changed"])])
    assert result.exit_code == 0, result.output
    assert "▼" in result.output and "▲" in result.output and "significantly worse" in result.output
    report = CliRunner().invoke(cli, ["report", str(runs["changed"]), "--baseline", str(runs["base"])])
    assert report.exit_code == 0, report.output
    page = (runs["changed"] / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison-table"' in page and "significantly worse" in page
    summary = (runs["changed"] / "report.md").read_text(encoding="utf-8")
    assert "### Compared with" in summary and "▼" in summary
    missing = CliRunner().invoke(cli, ["compare", str(runs["base"]), "/nonexistent/run"])
    assert missing.exit_code == 2 and "B:" in missing.output
    assert CliRunner().invoke(cli, ["compare", "--help"]).exit_code == 0
