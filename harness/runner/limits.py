"""Hold a cell's process to its hardware profile: threads, CPU affinity, memory budget.

Threads are set through the environment before any runtime starts (llama.cpp reads
``TIERBENCH_THREADS``; OpenMP/BLAS read the usual variables), cores through
``sched_setaffinity``. Memory is watched by a thread: when resident memory passes the budget
the process records the overrun and exits with ``EXIT_OVER_BUDGET`` so the parent can report
"does not fit" rather than a crash.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from harness.config.profile import HardwareProfile
from harness.meters.memory import read_status
from harness.runner.cell import EXIT_OVER_BUDGET

THREAD_VARIABLES = ("TIERBENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_environment(profile: HardwareProfile) -> dict[str, str]:
    """Environment variables that cap the runtimes' thread pools to the profile."""
    threads = str(profile.effective_threads)
    return dict.fromkeys(THREAD_VARIABLES, threads)


@dataclass
class AppliedLimits:
    threads: int
    cpus: list[int]
    memory_budget_mb: float | None
    notes: list[str]


def apply_cpu_limits(profile: HardwareProfile) -> AppliedLimits:
    """Pin this process to as many CPUs as the profile has cores (never more than the host has)."""
    notes: list[str] = []
    cpus: list[int] = []
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        cpus = available[: profile.cores]
        if len(cpus) < profile.cores:
            notes.append(f"profile has {profile.cores} cores, host offers {len(available)}")
        os.sched_setaffinity(0, cpus)
    return AppliedLimits(profile.effective_threads, cpus, profile.memory_mb, notes)


class MemoryWatchdog:
    """Stop the process when its resident memory passes ``budget_mb``."""

    def __init__(self, budget_mb: float, report_path: Path, interval_s: float = 0.02) -> None:
        self.budget_mb = budget_mb
        self.report_path = report_path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watchdog", daemon=True)

    def start(self) -> MemoryWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            status = read_status()
            rss = status.get("VmRSS", 0.0)
            if rss > self.budget_mb:
                record = {
                    "peak_rss_mb": max(rss, status.get("VmHWM", 0.0)),
                    "budget_mb": self.budget_mb,
                    "rss_anon_mb": status.get("RssAnon"),
                    "rss_file_mb": status.get("RssFile"),
                }
                self.report_path.write_text(json.dumps(record))
                os._exit(EXIT_OVER_BUDGET)
