"""Hold a cell's process to its hardware profile: threads (environment), CPU affinity, memory budget.

Memory is a watchdog on resident memory (mmap'd weights included) that exits with ``EXIT_OVER_BUDGET``
("does not fit"), not a cgroup: ``memory.max`` reclaims file-backed weight pages first, so a model
whose weights exceed the budget would thrash rather than stop, and its kill is a bare SIGKILL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from harness.config.profile import HardwareProfile
from harness.meters.contention import cell_cpus
from harness.results.schema import OverBudget
from harness.runner.cell import EXIT_OVER_BUDGET

THREAD_VARIABLES = ("TIERBENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cell_threads(profile: HardwareProfile) -> int:
    """Threads a cell runs: the profile's own figure, else one per core its CPU set can give it (more
    threads than usable cores, under a container's cpuset, make llama.cpp's threads wait on each other)."""
    return profile.threads or max(1, min(profile.cores, len(cell_cpus())))


def thread_environment(profile: HardwareProfile) -> dict[str, str]:
    """Environment variables that cap the runtimes' thread pools to the profile."""
    return dict.fromkeys(THREAD_VARIABLES, str(cell_threads(profile)))


# Value of the cells table's ``limit_mechanism`` column.
WATCHDOG = "rss-watchdog"
NO_LIMIT = "none"


@dataclass
class AppliedLimits:
    threads: int
    cpus: list[int]
    notes: list[str]


def _thread_ids() -> list[int]:
    try:
        return [int(entry.name) for entry in Path("/proc/self/task").iterdir() if entry.name.isdigit()]
    except OSError:
        return [0]


def apply_cpu_limits(profile: HardwareProfile) -> AppliedLimits:
    """Pin every thread of this process to as many CPUs as the profile has cores (threads started
    before, such as BLAS pools started at import, keep their own affinity unless set one by one)."""
    notes: list[str] = []
    cpus: list[int] = []
    if hasattr(os, "sched_setaffinity"):
        available = cell_cpus()
        cpus = available[: profile.cores]
        if len(cpus) < profile.cores:
            notes.append(f"profile has {profile.cores} cores, host offers {len(available)}")
        for tid in _thread_ids():
            try:
                os.sched_setaffinity(tid, cpus)
            except (ProcessLookupError, PermissionError):
                continue  # a thread that already ended, or one we may not move
        os.sched_setaffinity(0, cpus)
    return AppliedLimits(cell_threads(profile), cpus, notes)


def observed_cpus() -> list[int]:
    """The CPUs any thread of this process may run on now (what the kernel enforces)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    seen: set[int] = set()
    for tid in _thread_ids():
        try:
            seen.update(os.sched_getaffinity(tid))
        except OSError:  # a thread that already ended, or one we may not read
            continue
    return sorted(seen)


def format_cpus(cpus: list[int]) -> str:
    """CPU numbers in the kernel's list form: [0, 1, 2, 5] -> "0-2,5"."""
    # consecutive numbers share one (number - position) key, so each group is one range
    groups = groupby(enumerate(sorted(set(cpus))), key=lambda pair: pair[1] - pair[0])
    ranges = [[cpu for _, cpu in group] for _, group in groups]
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in ranges)


def memory_mechanism_note(cgroup_root: Path = Path("/sys/fs/cgroup")) -> str:
    """Why memory is held by the watchdog here: what the cgroup setup of this machine is."""
    if (cgroup_root / "cgroup.controllers").exists():
        return "memory held by rss-watchdog (cgroup v2 present; watchdog used so mmap'd weights count)"
    if (cgroup_root / "memory").is_dir():
        return "memory held by rss-watchdog (cgroup v1 host: no delegated cgroup v2 memory controller)"
    return "memory held by rss-watchdog (no cgroup filesystem)"


class MemoryWatchdog:
    """Stop the process when its resident memory passes ``budget_mb``; fed by the cell's MemorySampler."""

    mechanism = WATCHDOG

    def __init__(self, budget_mb: float, report_path: Path) -> None:
        self.budget_mb = budget_mb
        self.report_path = report_path
        self.cpus = format_cpus(observed_cpus())

    def __call__(self, status: dict[str, float]) -> None:
        rss = status.get("VmRSS", 0.0)
        if rss > self.budget_mb:
            record = OverBudget(
                peak_rss_mb=max(rss, status.get("VmHWM", 0.0)),
                budget_mb=self.budget_mb,
                rss_anon_mb=status.get("RssAnon"),
                rss_file_mb=status.get("RssFile"),
                limit_mechanism=self.mechanism,
                cpus=self.cpus,
            )
            self.report_path.write_text(record.model_dump_json())
            os._exit(EXIT_OVER_BUDGET)
