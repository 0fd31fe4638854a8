"""Verdicts of the gate on synthetic run directories with known differences."""

from __future__ import annotations

from pathlib import Path

import pytest
from gate_runs import Cell, flip_correct, outcomes, write_run

from harness.config.rules import GateRules
from harness.errors import UserError
from harness.gate import evaluate, from_run
from harness.gate.evaluate import GateReport


def _rules(*rules: dict[str, object], **settings: object) -> GateRules:
    return GateRules.model_validate({"bootstrap_iterations": 1000, **settings, "rules": list(rules)})


def _gate(tmp_path: Path, base: list[Cell], run: list[Cell], rules: GateRules) -> GateReport:
    base_dir = write_run(tmp_path / "base", base)
    run_dir = write_run(tmp_path / "run", run)
    return evaluate(from_run(run_dir), from_run(base_dir), rules)


def _verdicts(report: GateReport) -> dict[str, str]:
    return {r.rule.label: r.verdict for r in report.results}


ALL_RULES = (
    {"metric": "accuracy", "max_drop_points": 1},
    {"metric": "ttft_p95", "max_increase_pct": 10},
    {"metric": "tpot_mean", "max_increase_pct": 10},
    {"metric": "decode_tps_mean", "max_drop_pct": 10},
    {"metric": "peak_rss_mb", "max_increase_pct": 5},
)


def test_same_configuration_with_fresh_noise_passes(tmp_path: Path) -> None:
    report = _gate(tmp_path, [Cell(latency_seed=1)], [Cell(latency_seed=2, peak_rss_mb=302)], _rules(*ALL_RULES))
    assert report.passed and report.exit_code == 0
    assert set(_verdicts(report).values()) == {"no_significant_change"}


def test_accuracy_drop_fails_the_accuracy_rule_only(tmp_path: Path) -> None:
    base = outcomes(60, 0.6)
    report = _gate(
        tmp_path, [Cell(tasks={"arith": base})], [Cell(tasks={"arith": flip_correct(base, 12)})], _rules(*ALL_RULES)
    )
    verdicts = _verdicts(report)
    assert verdicts.pop("accuracy") == "regressed"
    assert set(verdicts.values()) == {"no_significant_change"}
    result = report.failures[0]
    assert "-20.0 pts" in result.reason and "1 pts tolerance" in result.reason and "McNemar" in result.reason
    assert report.exit_code == 1


def test_a_small_drop_within_noise_is_not_a_regression(tmp_path: Path) -> None:
    base = outcomes(60, 0.6)
    report = _gate(
        tmp_path,
        [Cell(tasks={"arith": base})],
        [Cell(tasks={"arith": flip_correct(base, 2)})],
        _rules({"metric": "accuracy", "max_drop_points": 1}),
    )
    assert _verdicts(report) == {"accuracy": "no_significant_change"}
    assert report.passed


def test_accuracy_gain_is_improved(tmp_path: Path) -> None:
    run = outcomes(60, 0.6)
    report = _gate(
        tmp_path,
        [Cell(tasks={"arith": flip_correct(run, 15)})],
        [Cell(tasks={"arith": run})],
        _rules({"metric": "accuracy", "max_drop_points": 1}),
    )
    assert _verdicts(report) == {"accuracy": "improved"}
    assert report.passed


def test_slower_latency_fails_latency_rules(tmp_path: Path) -> None:
    report = _gate(tmp_path, [Cell(latency_seed=1)], [Cell(latency_seed=2, latency_scale=1.6)], _rules(*ALL_RULES))
    verdicts = _verdicts(report)
    assert verdicts["ttft_p95"] == verdicts["tpot_mean"] == verdicts["decode_tps_mean"] == "regressed"
    assert verdicts["accuracy"] == verdicts["peak_rss_mb"] == "no_significant_change"


def test_latency_rise_inside_tolerance_passes(tmp_path: Path) -> None:
    report = _gate(
        tmp_path,
        [Cell(latency_seed=1)],
        [Cell(latency_seed=1, latency_scale=1.05)],
        _rules({"metric": "tpot_mean", "max_increase_pct": 10}),
    )
    assert _verdicts(report) == {"tpot_mean": "no_significant_change"}


def test_memory_and_energy_ranges(tmp_path: Path) -> None:
    rules = _rules(
        {"metric": "peak_rss_mb", "max_increase_pct": 5}, {"metric": "energy_per_request_j", "max_increase_pct": 10}
    )
    report = _gate(tmp_path, [Cell(energy_range=0.2)], [Cell(peak_rss_mb=330, energy_j=125, energy_range=0.2)], rules)
    # memory +10% > 5%; energy +25% but the estimated ranges overlap, so no verdict of regression
    assert _verdicts(report) == {"peak_rss_mb": "regressed", "energy_per_request_j": "no_significant_change"}
    report = _gate(tmp_path, [Cell()], [Cell(energy_j=125)], rules)
    assert _verdicts(report)["energy_per_request_j"] == "regressed"


def test_floors_and_ceilings_need_no_change(tmp_path: Path) -> None:
    rules = _rules({"metric": "accuracy", "floor": 0.7}, {"metric": "e2e_p95", "ceiling": 10.0})
    report = _gate(tmp_path, [Cell()], [Cell()], rules)
    assert _verdicts(report) == {"accuracy": "regressed", "e2e_p95": "no_significant_change"}
    assert "below the floor 70.0%" in report.failures[0].reason


def test_tiny_item_count_is_inconclusive_not_pass(tmp_path: Path) -> None:
    tiny = outcomes(5, 0.6)
    rules = _rules({"metric": "accuracy", "max_drop_points": 1})
    report = _gate(tmp_path, [Cell(tasks={"arith": tiny})], [Cell(tasks={"arith": tiny})], rules)
    assert _verdicts(report) == {"accuracy": "inconclusive"}
    assert "only 5 paired items" in report.results[0].reason
    assert report.exit_code == 1
    relaxed = _rules({"metric": "accuracy", "max_drop_points": 1}, on_inconclusive="warn")
    report = _gate(tmp_path, [Cell(tasks={"arith": tiny})], [Cell(tasks={"arith": tiny})], relaxed)
    assert report.exit_code == 0 and report.results[0].verdict == "inconclusive"


def test_few_requests_are_inconclusive(tmp_path: Path) -> None:
    report = _gate(
        tmp_path, [Cell(requests=4)], [Cell(requests=4)], _rules({"metric": "ttft_p95", "max_increase_pct": 10})
    )
    assert _verdicts(report) == {"ttft_p95": "inconclusive"}


@pytest.mark.parametrize(
    ("base", "run", "expected"),
    [
        (
            Cell(tasks={"arith": outcomes(60, 0.6)}),
            Cell(tasks={"arith": outcomes(50, 0.6)}),
            "items differ: 0 only in run, 10 only in baseline",
        ),
        (Cell(tasks={"arith": outcomes(60, 0.6)}), Cell(tasks={"logic": outcomes(60, 0.6)}), "tasks differ"),
        (Cell(), Cell(targets={"3": "another answer"}), "reference answers differ for 1 items"),
        (Cell(model="nano-old"), Cell(), "nano@host is not in the baseline"),
        (Cell(points=("pp32/tg16",)), Cell(points=("pp64/tg16",)), "perf scenarios differ"),
        (Cell(status="failed", reason="OOM"), Cell(), "baseline cell did not complete"),
    ],
)
def test_runs_that_differ_are_not_comparable(tmp_path: Path, base: Cell, run: Cell, expected: str) -> None:
    rules = _rules({"metric": "accuracy", "max_drop_points": 1}, {"metric": "ttft_p95", "max_increase_pct": 10})
    report = _gate(tmp_path, [base], [run], rules)
    flagged = [r for r in report.results if expected in r.reason]
    assert flagged, [r.reason for r in report.results]
    assert {r.verdict for r in flagged} == {"not_comparable"}
    assert not report.passed


def test_a_cell_that_failed_in_the_run_is_a_regression(tmp_path: Path) -> None:
    report = _gate(
        tmp_path,
        [Cell()],
        [Cell(status="failed", reason="worker killed by SIGKILL")],
        _rules({"metric": "accuracy", "max_drop_points": 1}),
    )
    assert _verdicts(report) == {"accuracy": "regressed"}
    assert "SIGKILL" in report.results[0].reason
    broken = Cell(status="failed", reason="ImportError")
    report = _gate(tmp_path, [broken], [broken], _rules({"metric": "accuracy", "max_drop_points": 1}))
    assert _verdicts(report) == {"accuracy": "not_comparable"}
    assert "nor in the baseline" in report.results[0].reason


def test_skipped_cells_on_both_sides_are_left_out(tmp_path: Path) -> None:
    full = Cell(model="full", tier="full", status="skipped", reason="OPENAI_API_KEY is not set")
    report = _gate(tmp_path, [Cell(), full], [Cell(), full], _rules({"metric": "accuracy", "max_drop_points": 1}))
    assert [(r.model, r.verdict) for r in report.results] == [("nano", "no_significant_change")]
    explicit = _rules({"metric": "accuracy", "tier": "full", "max_drop_points": 1})
    report = _gate(tmp_path, [Cell(), Cell(model="full", tier="full")], [Cell(), full], explicit)
    assert _verdicts(report) == {"accuracy": "not_comparable"}


def test_rules_select_by_tier_and_model(tmp_path: Path) -> None:
    cells = [Cell(), Cell(model="mini", tier="mini")]
    worse = [Cell(), Cell(model="mini", tier="mini", peak_rss_mb=400)]
    rules = _rules(
        {"metric": "peak_rss_mb", "max_increase_pct": 5},
        {"metric": "peak_rss_mb", "name": "nano memory", "tier": "nano", "max_increase_pct": 5},
    )
    report = _gate(tmp_path, cells, worse, rules)
    assert [(r.rule.label, r.tier, r.verdict) for r in report.results] == [
        ("peak_rss_mb", "nano", "no_significant_change"),
        ("peak_rss_mb", "mini", "regressed"),
        ("nano memory", "nano", "no_significant_change"),
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"metric": "accuracy", "tier": "mini", "max_drop_points": 1}, "tier 'mini' is not in the run (run has: nano)"),
        ({"metric": "accuracy", "model": "gemma", "max_drop_points": 1}, "model 'gemma' is not in the run"),
        ({"metric": "accuracy", "profile": "pi5", "max_drop_points": 1}, "profile 'pi5' is not in the run"),
        ({"metric": "accuracy:geography", "max_drop_points": 1}, "task 'geography' is in neither"),
        ({"metric": "cell:gpu_mb", "max_increase_pct": 1}, "has a 'gpu_mb' column"),
    ],
)
def test_rules_that_address_nothing_are_user_errors(tmp_path: Path, rule: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _gate(tmp_path, [Cell()], [Cell()], _rules(rule))


def test_generic_cell_columns_are_metrics(tmp_path: Path) -> None:
    rules = _rules(
        {"metric": "cost_per_1k_requests_usd", "max_increase_pct": 5}, {"metric": "cell:gpu_mb", "ceiling": 100}
    )
    report = _gate(
        tmp_path,
        [Cell(extra={"cost_per_1k_requests_usd": 0.10, "gpu_mb": 50.0})],
        [Cell(extra={"cost_per_1k_requests_usd": 0.12, "gpu_mb": 150.0})],
        rules,
    )
    assert _verdicts(report) == {"cost_per_1k_requests_usd": "regressed", "cell:gpu_mb": "regressed"}


def test_changed_model_configuration_is_reported(tmp_path: Path) -> None:
    base_dir = write_run(tmp_path / "base", [Cell()], meta={"models": [{"name": "nano", "params": {"n_threads": 2}}]})
    run_dir = write_run(tmp_path / "run", [Cell()], meta={"models": [{"name": "nano", "params": {"n_threads": 1}}]})
    report = evaluate(from_run(run_dir), from_run(base_dir), _rules({"metric": "accuracy", "max_drop_points": 1}))
    assert any("params.n_threads" in w for w in report.warnings)


def test_a_metric_the_run_did_not_measure_is_inconclusive(tmp_path: Path) -> None:
    # the cells table declares cost_per_1k_requests_usd, but this run has no value for it
    report = _gate(tmp_path, [Cell()], [Cell()], _rules({"metric": "cost_per_1k_requests_usd", "max_increase_pct": 5}))
    assert _verdicts(report) == {"cost_per_1k_requests_usd": "inconclusive"}
    assert "not measured in the run" in report.results[0].reason


def test_a_cell_missing_from_the_run_is_not_a_silent_pass(tmp_path: Path) -> None:
    both = [Cell(), Cell(model="mini", tier="mini")]
    report = _gate(tmp_path, both, [Cell()], _rules({"metric": "peak_rss_mb", "max_increase_pct": 5}))
    assert [(r.model, r.verdict) for r in report.results] == [
        ("nano", "no_significant_change"),
        ("mini", "not_comparable"),
    ]
    assert "missing from the run" in report.results[1].reason
    assert report.exit_code == 1
