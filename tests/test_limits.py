"""Profile limits in effect: CPU affinity on every thread, thread caps, the memory watchdog.

The model tests run the real CLI on the real nano/mini models: one cell under a deliberately
tiny memory budget must be recorded as "does not fit", and the 1-core 1 GiB profile must run
with one CPU, one thread and the watchdog armed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.config.profile import HardwareProfile
from harness.hardware import get_profile
from harness.runner.cell import EXIT_OVER_BUDGET
from harness.runner.limits import THREAD_VARIABLES, format_cpus, memory_mechanism_note, thread_environment

Tierbench = Callable[..., subprocess.CompletedProcess[str]]

SUITE = {
    "name": "limits",
    "tasks": [],
    "scenarios": [
        {"name": "tiny", "kind": "grid", "prompt_tokens": [16], "output_tokens": [8], "requests": 2, "warmup": 1}
    ],
}


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_format_cpus() -> None:
    assert format_cpus([]) == ""
    assert format_cpus([0]) == "0"
    assert format_cpus([3, 0, 1, 2, 5]) == "0-3,5"
    assert format_cpus([0, 2, 4, 5]) == "0,2,4-5"


def test_thread_environment_follows_profile() -> None:
    profile = get_profile("edge-1c-1gb")
    assert thread_environment(profile) == dict.fromkeys(THREAD_VARIABLES, "1")


def test_mechanism_note_describes_cgroup_setup(tmp_path: Path) -> None:
    assert "no cgroup" in memory_mechanism_note(tmp_path)
    (tmp_path / "memory").mkdir()
    assert "cgroup v1" in memory_mechanism_note(tmp_path)
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert "cgroup v2" in memory_mechanism_note(tmp_path)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux CPU affinity")
def test_cpu_limits_pin_threads_started_before(tmp_path: Path) -> None:
    """A thread that existed before the limits were applied is pinned too (BLAS pools start at import)."""
    profile = get_profile("edge-1c-1gb").model_dump_json(by_alias=True)
    result = _python(
        f"""
        import json, os, threading, time
        from harness.config.profile import HardwareProfile
        from harness.runner.limits import apply_cpu_limits, observed_cpus
        stop = threading.Event()
        early = threading.Thread(target=stop.wait)
        early.start()
        time.sleep(0.05)
        limits = apply_cpu_limits(HardwareProfile.model_validate_json({profile!r}))
        seen = observed_cpus()
        stop.set(); early.join()
        print(json.dumps({{"applied": limits.cpus, "seen": seen, "threads": limits.threads}}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["applied"]) == 1 and data["seen"] == data["applied"] and data["threads"] == 1


def test_watchdog_stops_process_over_budget(tmp_path: Path) -> None:
    """The watchdog, fed by the memory sampler, exits with EXIT_OVER_BUDGET and records the peak
    once RSS passes the budget."""
    report = tmp_path / "over_budget.json"
    result = _python(
        f"""
        import time
        from pathlib import Path
        from harness.runner.limits import MemoryWatchdog
        from harness.meters.memory import MemorySampler, read_status
        budget = read_status().get("VmRSS", 0.0) + 64
        MemorySampler(on_sample=MemoryWatchdog(budget, Path({str(report)!r}))).__enter__()
        hog = bytearray(256 * 2**20)  # touched pages: 256 MiB resident
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(5)
        print("still alive")
        """,
        tmp_path,
    )
    assert result.returncode == EXIT_OVER_BUDGET, result.stdout + result.stderr
    assert "still alive" not in result.stdout
    record = json.loads(report.read_text())
    assert record["peak_rss_mb"] > record["budget_mb"]
    assert record["limit_mechanism"] == "rss-watchdog"


def _profile_file(tmp_path: Path, name: str, **fields: object) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"extends": "edge-1c-1gb", **fields}), encoding="utf-8")
    HardwareProfile.model_validate(get_profile(str(path)).model_dump(by_alias=True))  # it is valid
    return path


def _suite(tmp_path: Path) -> Path:
    path = tmp_path / "limits-suite.yaml"
    path.write_text(yaml.safe_dump(SUITE), encoding="utf-8")
    return path


@pytest.mark.slow
def test_tiny_budget_is_recorded_as_does_not_fit(tmp_path: Path, tierbench: Tierbench) -> None:
    # Above the worker's bare interpreter (~70 MiB), below nano loaded (~200 MiB): stops during load.
    profile = _profile_file(tmp_path, "tiny-160mb", memory_mb=160)
    out = tmp_path / "run"
    result = tierbench(
        "run",
        "--suite",
        str(_suite(tmp_path)),
        "--models",
        "nano",
        "--tasks",
        "",
        "--profiles",
        str(profile),
        "--out",
        str(out),
        "--no-report",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    cell = pd.read_parquet(out / "cells.parquet").set_index("cell_id").loc["nano@tiny-160mb"]
    assert cell["status"] == "does_not_fit", cell["reason"]
    match = re.fullmatch(r"does not fit \(peak (\d+\.\d\d) GB > 0\.16 GB\)", str(cell["reason"]))
    assert match, cell["reason"]
    assert cell["peak_rss_mb"] > cell["memory_budget_mb"] == 160
    assert cell["limit_mechanism"] == "rss-watchdog"
    assert cell["fit"] == "does_not_fit" and cell["fit_reason"] == cell["reason"]
    assert cell["emulated_on"]
    assert len(cell["cpus"].split(",")) == 1 and "-" not in cell["cpus"]


@pytest.mark.slow
def test_one_core_one_gib_profile_runs_nano_and_mini_with_limits(tmp_path: Path, tierbench: Tierbench) -> None:
    out = tmp_path / "run"
    result = tierbench(
        "run",
        "--suite",
        str(_suite(tmp_path)),
        "--models",
        "nano,mini",
        "--tasks",
        "",
        "--profiles",
        "host,edge-1c-1gb",
        "--out",
        str(out),
        "--no-report",
        timeout=400,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    cells = pd.read_parquet(out / "cells.parquet").set_index("cell_id")
    for model in ("nano", "mini"):
        host, edge = cells.loc[f"{model}@host"], cells.loc[f"{model}@edge-1c-1gb"]
        assert host["status"] == "ok" and edge["status"] == "ok", (host["reason"], edge["reason"])
        # limits in effect on the emulated profile, none on host
        assert edge["threads"] == 1 and edge["limit_mechanism"] == "rss-watchdog"
        assert re.fullmatch(r"\d+", str(edge["cpus"])), edge["cpus"]  # one CPU, every thread of the worker
        assert edge["emulated_on"] and pd.isna(host["emulated_on"])
        assert host["limit_mechanism"] == "none"
        # fit verdict and the cost / slowdown figures
        assert edge["fit"] == "fits" and edge["fit_reason"].endswith("≤ 1.00 GB budget")
        assert 0 < edge["fit_required_mb"] <= 1024
        assert edge["slowdown_vs_host"] > 0
        assert edge["cost_per_1k_requests_usd"] > 0 and edge["cost_per_mtok_usd"] > 0
        assert edge["energy_per_request_j_low"] <= edge["energy_per_request_j"] <= edge["energy_per_request_j_high"]
