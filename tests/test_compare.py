"""Run-to-run deltas with significance: the statistics, the shared comparison, and both CLIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from report_runs import make_run

from harness.cli.main import cli
from harness.report.compare import compare_views
from harness.report.stats import bootstrap_ratio_ci, paired_accuracy, unpaired_difference
from harness.report.view import build_view


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    return {
        "base": make_run(root / "base", seed=7),
        "same": make_run(root / "same", seed=7),
        "changed": make_run(root / "changed", seed=7, accuracy_shift=0.3, latency_scale=1.8),
    }


def test_mcnemar_exact_on_discordant_pairs() -> None:
    # 10 items newly right, none newly wrong: p = 2 * 0.5**10
    result = paired_accuracy([True] * 10 + [False] * 30, [False] * 40)
    assert result is not None
    assert result.delta == pytest.approx(0.25)
    assert result.p_value == pytest.approx(2 * 0.5**10)
    assert result.significant and result.low > 0
    same = paired_accuracy([True, False] * 20, [True, False] * 20)
    assert same is not None and same.p_value == 1.0 and not same.significant


def test_unpaired_difference_and_latency_ratio() -> None:
    z = unpaired_difference(0.60, 0.02, 0.50, 0.02, 1000, "z")
    assert z is not None and z.significant and z.low == pytest.approx(0.1 - 1.959964 * (2 * 0.02**2) ** 0.5)
    rng = np.random.default_rng(0)
    base = rng.lognormal(0, 0.1, 200)
    ratio = bootstrap_ratio_ci(base * 1.5, base, 95)
    assert ratio is not None and ratio.significant and ratio.low > 1.3
    noise = bootstrap_ratio_ci(rng.lognormal(0, 0.1, 200), base, 50)
    assert noise is not None and not noise.significant
    assert bootstrap_ratio_ci(base[:3], base, 95) is None


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


def test_unmatched_items_fall_back_to_an_unpaired_test(runs: dict[str, Path], tmp_path: Path) -> None:
    other = make_run(tmp_path / "other", seed=7, accuracy_shift=0.3)
    lines = (other / "samples.jsonl").read_text().splitlines()
    (other / "samples.jsonl").write_text("\n".join(line.replace('"doc_id": ', '"doc_id": "z') for line in lines))
    comparison = compare_views(build_view(other), build_view(runs["base"]))
    piqa = next(r for r in comparison.rows if r.metric.startswith("piqa"))
    assert "two-proportion" in piqa.test


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
