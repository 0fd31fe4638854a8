"""How busy the host was around a cell: CPU taken by other processes, steal time, clock speed.

A neighbour holding one core makes llama.cpp's threads spin at a barrier (FIELD_NOTES measured ~10x
slower scoring beside one busy process), so the meter takes the busy ticks of the cell's CPUs in
/proc/stat minus its own process tree's CPU time (psutil) as the neighbours' share; steal time is
reported apart. More than ``CONTENDED_SHARE`` flags the cell ``contended``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from harness.meters.periodic import Ticker

PROC_STAT = Path("/proc/stat")
# Share of the cell's cores that other processes may take before the cell is flagged.
CONTENDED_SHARE = 0.25
# Ticks of /proc/stat that count as a CPU being busy (steal is reported apart; guest is inside user).
_BUSY_FIELDS = (0, 1, 2, 5, 6)  # user, nice, system, irq, softirq
_STEAL_FIELD = 7


def cell_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity), or every CPU where that is not known."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class CpuTicks:
    """Seconds of busy, steal and total time summed over a set of CPUs."""

    busy_s: float
    steal_s: float
    total_s: float


def read_ticks(cpus: list[int], stat: Path = PROC_STAT) -> CpuTicks | None:
    """Busy/steal/total seconds of ``cpus`` from /proc/stat; None where it cannot be read."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    wanted = {f"cpu{n}" for n in cpus}
    rows = [
        [int(v) for v in rest.split()] for name, _, rest in (line.partition(" ") for line in lines) if name in wanted
    ]
    if not rows:
        return None
    busy = sum(row[i] for row in rows for i in _BUSY_FIELDS if i < len(row))
    steal = sum(row[_STEAL_FIELD] for row in rows if len(row) > _STEAL_FIELD)
    total = sum(sum(row[:8]) for row in rows)  # guest is inside user: the first 8 fields are the whole of the time
    return CpuTicks(busy / hz, steal / hz, total / hz)


def tree_cpu_s(process: psutil.Process) -> float:
    """CPU seconds of ``process`` and its live children (and children it already waited for)."""
    total = 0.0
    try:
        times = process.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
        children = process.children(recursive=True)
    except psutil.Error:
        return total
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def cpu_freq_mhz(cpus: list[int]) -> float | None:
    """Mean current clock of ``cpus`` in MHz where the kernel exposes it, else None."""
    try:
        freqs = psutil.cpu_freq(percpu=True)
    except (OSError, NotImplementedError, AttributeError):
        return None
    values = [freqs[n].current for n in cpus if n < len(freqs) and freqs[n].current > 0]
    return sum(values) / len(values) if values else None


@dataclass
class ContentionResult:
    """What the neighbours took while the cell ran (shares of the cell's cores, 0-1), named as the cells
    table names it."""

    host_other_cpu_share: float | None
    host_steal_share: float | None
    cpu_freq_mhz_mean: float | None
    cores_seen: int

    @property
    def contended(self) -> bool:
        return self.host_other_cpu_share is not None and self.host_other_cpu_share > CONTENDED_SHARE

    def columns(self) -> dict[str, float | bool | int | None]:
        return {**asdict(self), "contended": self.contended}


class ContentionMeter:
    """``with ContentionMeter() as m: ...`` then ``m.result``: the neighbours' share over the block.

    Counters read at both ends make the share exact; a thread only samples the clock speed for its mean."""

    def __init__(self, cpus: list[int] | None = None, interval_s: float = 0.5) -> None:
        self.cpus = cpus if cpus is not None else cell_cpus()
        self._process = psutil.Process()
        self._ticker = Ticker(self._sample_freq, interval_s, "contention-meter")
        self._freqs: list[float] = []
        # (the CPUs' ticks, the cell's own CPU seconds) at each end of the block
        self._start: tuple[CpuTicks | None, float] = (None, 0.0)
        self._end: tuple[CpuTicks | None, float] = (None, 0.0)

    def _snapshot(self) -> tuple[CpuTicks | None, float]:
        return read_ticks(self.cpus), tree_cpu_s(self._process)

    def _sample_freq(self) -> None:
        freq = cpu_freq_mhz(self.cpus)
        if freq is not None:
            self._freqs.append(freq)

    def __enter__(self) -> ContentionMeter:
        self._start = self._snapshot()
        self._sample_freq()
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.stop()
        self._end = self._snapshot()

    @property
    def result(self) -> ContentionResult:
        """Neighbours' share of the cell's cores between the two snapshots."""
        (t0, own0), (t1, own1) = self._start, self._end
        freq = sum(self._freqs) / len(self._freqs) if self._freqs else None
        cores = len(self.cpus)
        if t0 is None or t1 is None or t1.total_s <= t0.total_s:
            return ContentionResult(None, None, freq, cores)
        # the kernel's own total (busy + idle) of these CPUs is the capacity: no wall-clock skew
        capacity = t1.total_s - t0.total_s
        others = (t1.busy_s - t0.busy_s) - (own1 - own0)
        steal = t1.steal_s - t0.steal_s
        other_share, steal_share = (min(1.0, max(0.0, seconds / capacity)) for seconds in (others, steal))
        return ContentionResult(other_share, steal_share, freq, cores)


def host_busy_share(cpus: list[int] | None = None, window_s: float = 1.0) -> float | None:
    """Share of ``cpus`` that other processes kept busy over ``window_s`` (this process excluded)."""
    with ContentionMeter(cpus, interval_s=window_s * 2) as meter:
        time.sleep(window_s)
    return meter.result.host_other_cpu_share


@dataclass
class QuietWait:
    """What ``--quiet-host`` saw before a cell: how long it waited and the last busy share."""

    waited_s: float
    busy_share: float | None
    calm: bool

    def columns(self) -> dict[str, float | bool | None]:
        return {"quiet_wait_s": self.waited_s, "quiet_busy_share": self.busy_share, "quiet_calm": self.calm}


def wait_for_quiet(max_wait_s: float, cpus: list[int] | None = None) -> QuietWait:
    """Sample the host until other processes take at most ``CONTENDED_SHARE`` of ``cpus``, or give up."""
    started = time.monotonic()
    share = host_busy_share(cpus)
    while share is not None and share > CONTENDED_SHARE and time.monotonic() - started < max_wait_s:
        share = host_busy_share(cpus)
    return QuietWait(time.monotonic() - started, share, share is None or share <= CONTENDED_SHARE)
