"""The gate never fails a run compared with itself, and a rule a cell cannot meet by construction
is reported as not applicable instead of failing it.

The quick-suite-shaped run is synthetic (written through the real RunStore, since llama.cpp cannot
decode on every test machine): its live cascade's requests are recorded as ``harness.meters.latency``
records them, with a decode rate only on the escalated ones, so a decode rule with
``min_requests: 10`` can never be judged for it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from gate_runs import Cell, quick_run_cells, shipped_rules, write_run

from harness.cli.main import cli
from harness.config.rules import GateRules
from harness.gate import evaluate, from_run
from harness.gate.evaluate import GateReport

REPO = Path(__file__).resolve().parents[1]
SHIPPED = shipped_rules()


def test_the_shipped_rules_are_all_found() -> None:
    assert "examples/gate.yaml" in SHIPPED
    assert any(source.startswith("docs/ci.md") for source in SHIPPED), sorted(SHIPPED)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run shaped like the default ``tierbench run --limit 10``, and its saved baseline."""
    root = tmp_path_factory.mktemp("quick")
    run = write_run(root / "run", quick_run_cells())
    saved = CliRunner().invoke(cli, ["baseline", "save", str(run), "--to", str(root / "base.json.gz")])
    assert saved.exit_code == 0, saved.output
    return run, root / "base.json.gz"


@pytest.mark.parametrize("source", sorted(SHIPPED))
def test_a_run_gated_against_itself_passes_every_shipped_rules_file(
    source: str, quick_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, baseline = quick_run
    rules = tmp_path / "rules.yaml"
    rules.write_text(SHIPPED[source], encoding="utf-8")
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    args = ["gate", str(run), "--baseline", str(baseline), "--rules", str(rules)]
    result = CliRunner().invoke(cli, [*args, "--junit", str(junit), "--markdown", str(markdown)])
    assert result.exit_code == 0, f"{source}:\n{result.output}"
    assert "PASS" in result.output
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_the_cascade_decode_rule_is_not_applicable_in_every_output(
    quick_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run, baseline = quick_run
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    rules = REPO / "examples" / "gate.yaml"
    args = ["gate", str(run), "--baseline", str(baseline), "--rules", str(rules), "--junit", str(junit)]
    result = CliRunner().invoke(cli, [*args, "--markdown", str(markdown)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "decode_tps_mean [hybrid: nano-mini@host]: not applicable — decode_tps exists on only 5 of 10" in said
    assert "INCONCLUSIVE" not in said
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    skipped = cases["decode_tps_mean [hybrid: nano-mini@host]"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not applicable: decode_tps exists")
    assert cases["decode_tps_mean [nano: nano@host]"].find("skipped") is None  # measured tiers are judged
    text = markdown.read_text(encoding="utf-8")
    assert "not applicable" in text and "**decode_tps_mean [hybrid: nano-mini@host]** — not applicable" in text


def _gate(tmp_path: Path, run: list[Cell], base: list[Cell], *rules: dict[str, object]) -> GateReport:
    settings = GateRules.model_validate({"bootstrap_iterations": 500, "min_requests": 10, "rules": list(rules)})
    return evaluate(from_run(write_run(tmp_path / "run", run)), from_run(write_run(tmp_path / "base", base)), settings)


DECODE = {"metric": "decode_tps_mean", "max_drop_pct": 10}
CASCADE = {"model": "nano-mini", "tier": "hybrid", "backend": "cascade", "requests": 10}


@pytest.mark.parametrize(
    ("rule", "run", "base", "verdict"),
    [
        # a cascade that escalated nothing has no decode rate at all: not a failed run
        (DECODE, Cell(**CASCADE, escalated=0), Cell(**CASCADE, escalated=0), "not_applicable"),
        ({"metric": "prefill_tps_p50", "max_drop_pct": 10}, Cell(**CASCADE, escalated=5), Cell(**CASCADE, escalated=5), "not_applicable"),
        # enough escalated on both sides: judged like any tier
        (DECODE, Cell(**CASCADE, escalated=10), Cell(**CASCADE, escalated=10), "no_significant_change"),
        # TTFT exists on every completed request: never "by construction"
        ({"metric": "ttft_p95", "max_increase_pct": 10}, Cell(**CASCADE, escalated=5), Cell(**CASCADE, escalated=5), "no_significant_change"),
        # too few requests measured is the suite's doing, not the tier's: still inconclusive
        (DECODE, Cell(requests=5), Cell(requests=5), "inconclusive"),
        (DECODE, Cell(**{**CASCADE, "requests": 8}, escalated=4), Cell(**{**CASCADE, "requests": 8}, escalated=4), "inconclusive"),
        # only one side cannot meet it: the other could be judged, so not "by construction"
        (DECODE, Cell(**CASCADE, escalated=5), Cell(**CASCADE, escalated=10), "inconclusive"),
    ],
    ids=["nothing-escalated", "prefill-never", "all-escalated", "ttft", "few-requests", "few-and-cascade", "one-side"],
)  # fmt: skip
def test_not_applicable_only_by_construction(
    tmp_path: Path, rule: dict[str, object], run: Cell, base: Cell, verdict: str
) -> None:
    report = _gate(tmp_path, [run], [base], rule)
    [result] = report.results
    assert result.verdict == verdict, result.reason
    assert report.passed == (verdict != "inconclusive")
    if verdict == "not_applicable":
        assert "by construction" in result.reason and "min_requests is 10" in result.reason


def test_one_side_short_by_construction_says_so(tmp_path: Path) -> None:
    report = _gate(tmp_path, [Cell(**CASCADE, escalated=5)], [Cell(**CASCADE, escalated=10)], DECODE)
    assert "5 completed run requests have no decode_tps by construction" in report.results[0].reason
