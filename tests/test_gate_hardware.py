"""The gate across hardware: speed rules between different fingerprints are not comparable (naming
the difference), accuracy and memory rules are judged, and a fingerprint an older baseline lacks is
unknown, not equal."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gate_runs import Cell, flip_correct, outcomes, write_rules, write_run
from report_runs import HOST

from harness.cli.main import cli
from harness.config.rules import GateRules
from harness.gate import evaluate, from_run
from harness.gate.baseline import encode, load

EPYC: dict[str, Any] = {
    **HOST,
    "hostname": "runner-7",
    "cpu_model": "AMD EPYC 7763 64-Core Processor",
    "cpu_vendor": "AuthenticAMD",
    "cpu_flags": ["avx", "avx2", "fma", "sse4_2"],
    "physical_cores": 4,
    "logical_cores": 4,
    "usable_cores": 4,
    "llama_cpp_features": ["AVX2"],
}

RULES = """
bootstrap_iterations: 500
rules:
  - {metric: accuracy, max_drop_points: 5}
  - {metric: ttft_p95, max_increase_pct: 10}
  - {metric: e2e_mean, max_increase_pct: 10}
  - {metric: decode_tps_mean, max_drop_pct: 10}
  - {metric: load_time_s, max_increase_pct: 10}
  - {metric: peak_rss_mb, max_increase_pct: 5}
"""
SPEED = {"ttft_p95", "e2e_mean", "decode_tps_mean", "load_time_s"}


def _runs(tmp_path: Path, run_cell: Cell, base_host: dict[str, Any] = EPYC) -> tuple[Path, Path]:
    base = write_run(tmp_path / "base", [Cell(extra={"load_time_s": 1.0})], meta={"host": base_host})
    run = write_run(tmp_path / "run", [run_cell], meta={"host": HOST})
    return run, base


def _gate(run: Path, base: Path, rules: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["gate", str(run), "--baseline", str(base), "--rules", str(rules), *extra])


def test_speed_rules_across_hardware_are_not_comparable_and_name_the_difference(tmp_path: Path) -> None:
    # the run is 3x slower and 10 % heavier in load time, but on another CPU: no timing verdict
    run, base = _runs(tmp_path, Cell(latency_scale=3.0, extra={"load_time_s": 5.0}))
    rules = write_rules(tmp_path / "gate.yaml", RULES)
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    result = _gate(run, base, rules, "--junit", str(junit), "--markdown", str(markdown))
    assert result.exit_code == 0, result.output
    report = evaluate(from_run(run), from_run(base), GateRules.model_validate_json(json.dumps(_yaml(rules))))
    by_rule = {r.rule.metric: r for r in report.results}
    for metric in SPEED:
        verdict = by_rule[metric]
        assert verdict.verdict == "not_comparable" and verdict.other_hardware and not report.fails(verdict)
        assert "hardware differs: run Intel(R) Xeon(R) Processor (AMX, 2 cores)" in verdict.reason
        assert "baseline AMD EPYC 7763 64-Core Processor (AVX2, 4 cores)" in verdict.reason
        assert "CPU model" in verdict.reason and "CPU features" in verdict.reason
    assert by_rule["accuracy"].verdict == "no_significant_change"
    assert by_rule["peak_rss_mb"].verdict == "no_significant_change"
    assert any("compute kernels may differ" in note for note in by_rule["accuracy"].measure.notes)
    # presented as not applied, like not_applicable: skipped in JUnit, the skip icon in Markdown
    cases = ET.parse(junit).getroot().iter("testcase")
    skipped = {case.get("name", "").split(" [")[0] for case in cases if case.find("skipped") is not None}
    assert skipped == SPEED
    assert "⏭️ not comparable" in markdown.read_text() and "❌" not in markdown.read_text()
    assert "hardware differs" in result.output


def _yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def test_exit_code_follows_the_rules_accuracy_and_other_hardware(tmp_path: Path) -> None:
    base_items = outcomes(60, 0.6)
    run, base = _runs(tmp_path, Cell(tasks={"arith": flip_correct(base_items, 15)}, latency_scale=3.0))
    # an accuracy drop is judged across hardware: exit 1
    result = _gate(run, base, write_rules(tmp_path / "a.yaml", RULES))
    assert result.exit_code == 1 and "REGRESSED" in result.output
    # without the accuracy rule it passes; with other_hardware: fail the speed rules fail it
    speed_only = "\n".join(line for line in RULES.splitlines() if "accuracy" not in line)
    assert _gate(run, base, write_rules(tmp_path / "b.yaml", speed_only)).exit_code == 0
    strict = _gate(run, base, write_rules(tmp_path / "c.yaml", "other_hardware: fail\n" + speed_only))
    assert strict.exit_code == 1 and "NOT COMPARABLE" in strict.output


def test_same_hardware_still_judges_speed(tmp_path: Path) -> None:
    run, base = _runs(tmp_path, Cell(latency_scale=3.0), base_host=HOST)
    result = _gate(run, base, write_rules(tmp_path / "gate.yaml", RULES))
    assert result.exit_code == 1 and "hardware differs" not in result.output


def test_normalized_rule_compares_across_hardware(tmp_path: Path) -> None:
    # the baseline machine has twice the bandwidth and compute and was twice as fast: the same model speed
    base = write_run(
        tmp_path / "base",
        [Cell(latency_scale=1.0, extra={"roofline_bandwidth_gbs": 20.0, "roofline_gflops": 200.0})],
        meta={"host": EPYC},
    )
    same = write_run(
        tmp_path / "same",
        [Cell(latency_scale=2.0, extra={"roofline_bandwidth_gbs": 10.0, "roofline_gflops": 100.0})],
        meta={"host": HOST},
    )
    slower = write_run(
        tmp_path / "slower",
        [Cell(latency_scale=4.0, extra={"roofline_bandwidth_gbs": 10.0, "roofline_gflops": 100.0})],
        meta={"host": HOST},
    )
    rules = write_rules(
        tmp_path / "gate.yaml",
        "bootstrap_iterations: 500\nrules:\n"
        "  - {metric: ttft_p95, max_increase_pct: 10, normalize: roofline}\n"
        "  - {metric: decode_tps_mean, max_drop_pct: 10, normalize: roofline}\n",
    )
    ok = _gate(same, base, rules)
    assert ok.exit_code == 0, ok.output
    assert "normalised by each run's roofline" in ok.output and "raw figures" in ok.output
    bad = _gate(slower, base, rules)
    assert bad.exit_code == 1 and "REGRESSED" in bad.output


def test_normalize_is_refused_on_accuracy(tmp_path: Path) -> None:
    run, base = _runs(tmp_path, Cell())
    rules = write_rules(
        tmp_path / "gate.yaml", "rules:\n  - {metric: accuracy, max_drop_points: 1, normalize: roofline}\n"
    )
    result = _gate(run, base, rules)
    assert result.exit_code == 2 and "normalize applies to timing and throughput metrics only" in result.output


@pytest.mark.parametrize("dropped", ["cpu_flags", "cpu_vendor"])
def test_a_field_an_older_baseline_lacks_is_unknown_not_equal(tmp_path: Path, dropped: str) -> None:
    run, base_dir = _runs(tmp_path, Cell(latency_scale=3.0), base_host=HOST)
    # an older baseline file: the same machine, but without a field this tierbench records
    snapshot = from_run(base_dir)
    snapshot.meta["host"] = {k: v for k, v in HOST.items() if k != dropped}
    old = tmp_path / "old.json.gz"
    old.write_bytes(encode(snapshot))
    assert dropped not in json.loads(gzip.decompress(old.read_bytes()))["payload"]["meta"]["host"]
    assert load(old).meta["host"].get(dropped) is None
    result = _gate(run, old, write_rules(tmp_path / "gate.yaml", RULES))
    assert result.exit_code == 0, result.output  # the 3x slowdown is not called: the hardware is unknown
    assert "the baseline's hardware fingerprint lacks" in result.output
    assert "unknown, not assumed equal" in result.output
    shown = CliRunner().invoke(cli, ["baseline", "show", str(old)])
    label = {"cpu_flags": "CPU features", "cpu_vendor": "CPU vendor"}[dropped]
    assert f"(not recorded: {label}; speed rules will be not comparable)" in shown.output
