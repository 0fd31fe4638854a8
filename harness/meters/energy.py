"""Energy of a cell, from a sensor where one exists and from the profile's power model otherwise.

Every reading says its ``source`` (rapl, nvml, estimate, none) and ``scope``. An estimate is a
range: the device's idle power over the wall time plus its dynamic power scaled by the CPU
utilisation the cell caused, with the bounds reflecting that the power model is linear and
approximate.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import psutil

from harness.config.profile import PowerModel

EnergySource = Literal["rapl", "nvml", "estimate", "none"]

# Relative uncertainty of a linear utilisation power model (idle part, dynamic part).
IDLE_UNCERTAINTY = 0.10
DYNAMIC_UNCERTAINTY = 0.30


@dataclass
class EnergyReading:
    source: EnergySource
    scope: str
    joules: float | None
    low_j: float | None = None
    high_j: float | None = None
    idle_j: float | None = None
    notes: list[str] = field(default_factory=list)


class EnergyMeter(Protocol):
    """start() before the work, stop() after; stop never raises."""

    source: EnergySource

    def start(self) -> None: ...

    def stop(self) -> EnergyReading: ...


class EstimateMeter:
    """Linear power model: P = idle + (max - idle) * utilisation, utilisation from CPU time."""

    source: EnergySource = "estimate"

    def __init__(self, power: PowerModel, cores: int, process: psutil.Process | None = None) -> None:
        self.power = power
        self.cores = max(cores, 1)
        self.process = process or psutil.Process(os.getpid())
        self._t0 = 0.0
        self._cpu0 = 0.0

    def _cpu_time(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._cpu0 = self._cpu_time()

    def stop(self) -> EnergyReading:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        cpu = max(self._cpu_time() - self._cpu0, 0.0)
        utilisation = min(cpu / (wall * self.cores), 1.0)
        idle = self.power.idle_watts * wall
        dynamic = (self.power.max_watts - self.power.idle_watts) * utilisation * wall
        total = idle + dynamic
        return EnergyReading(
            source="estimate",
            scope="device (profile power model)",
            joules=total,
            low_j=idle * (1 - IDLE_UNCERTAINTY) + dynamic * (1 - DYNAMIC_UNCERTAINTY),
            high_j=idle * (1 + IDLE_UNCERTAINTY) + dynamic * (1 + DYNAMIC_UNCERTAINTY),
            idle_j=idle,
            notes=[f"estimated from {self.power.source}: utilisation {utilisation:.2f} over {wall:.1f}s"],
        )
