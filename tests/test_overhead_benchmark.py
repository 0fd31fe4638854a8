"""The overhead benchmark runs end to end on the real nano model and reports its ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_overhead_benchmark_prints_its_ratios() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/overhead.py",
            "--rounds",
            "2",
            "--prompt-tokens",
            "8",
            "--output-tokens",
            "6",
            "--threads",
            "1",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr  # 1 = FAIL verdict on a noisy machine, not a crash
    result = json.loads(done.stdout)
    assert result["verdict"] in {"PASS", "NOISY", "FAIL"}
    assert (done.returncode == 1) == (result["verdict"] == "FAIL")
    assert result["decode_ratio"] > 0 and result["decode_ratio_cpu_time"] > 0
    assert result["tierbench_decode_tps_median"] > 0 and result["bare_decode_tps_median"] > 0
    assert 0 <= result["harness_us_per_token"] < 1000  # tierbench's own work is microseconds per token
    assert isinstance(result["ttft_overhead_ms"], float)
