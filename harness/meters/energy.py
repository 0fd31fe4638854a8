"""Energy of a cell, from a sensor where one exists and from the profile's power model otherwise.

Every reading names its ``source`` and ``scope``. An estimate (idle power plus dynamic power scaled
by the cell's CPU utilisation) is a range, since a linear power model is approximate. Sensors see
only the machine they sit in, so an emulated profile always gets the estimate; a sensor failing
mid-run degrades to it with a note, and the chain's ``stop()`` never raises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psutil

from harness.config.profile import HardwareProfile, PowerModel
from harness.meters.nvml import NvmlApi, NvmlSensor
from harness.meters.rapl import POWERCAP, RaplSensor
from harness.meters.sensor import (
    CounterMeter,
    CounterSensor,
    EnergyReading,
    EnergySource,
    SensorError,
    SensorUnavailable,
)

# Relative uncertainty of a linear utilisation power model (idle part, dynamic part).
IDLE_UNCERTAINTY = 0.10
DYNAMIC_UNCERTAINTY = 0.30
DEFAULT_IDLE_S = 2.0


class EnergyMeter(Protocol):
    """start() before the work, stop() after; stop never raises."""

    @property
    def source(self) -> EnergySource: ...

    def start(self) -> None: ...

    def stop(self) -> EnergyReading: ...


class EstimateMeter:
    """Linear power model: P = idle + (max - idle) * utilisation, utilisation from CPU time."""

    source: EnergySource = "estimate"

    def __init__(
        self,
        power: PowerModel,
        cores: int,
        process: psutil.Process | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.power = power
        self.cores = max(cores, 1)
        self.process = process or psutil.Process(os.getpid())
        self.clock = clock
        self._t0 = 0.0
        self._cpu0 = 0.0

    def _cpu_time(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def start(self) -> None:
        self._t0 = self.clock()
        self._cpu0 = self._cpu_time()

    def stop(self) -> EnergyReading:
        wall = max(self.clock() - self._t0, 1e-9)
        cpu = max(self._cpu_time() - self._cpu0, 0.0)
        utilisation = min(cpu / (wall * self.cores), 1.0)
        idle = self.power.idle_watts * wall
        dynamic = (self.power.max_watts - self.power.idle_watts) * utilisation * wall
        return EnergyReading(
            source="estimate",
            scope="device (profile power model)",
            joules=idle + dynamic,
            low_j=idle * (1 - IDLE_UNCERTAINTY) + dynamic * (1 - DYNAMIC_UNCERTAINTY),
            high_j=idle * (1 + IDLE_UNCERTAINTY) + dynamic * (1 + DYNAMIC_UNCERTAINTY),
            idle_j=idle,
            notes=[
                f"estimated from {self.power.source}: {self.power.idle_watts:g}-{self.power.max_watts:g} W, "
                f"utilisation {utilisation:.2f} of {self.cores} cores over {wall:.1f}s"
            ],
            duration_s=wall,
            idle_power_w=self.power.idle_watts,
        )


class MeterChain:
    """Sensors that work here, measured together, with the estimate running alongside as the fallback.

    A sensor that fails to start is dropped with a note; one that fails at stop makes the whole
    reading fall back to the estimate (a partial sensor sum would silently change the scope).
    """

    def __init__(self, sensors: list[CounterMeter], fallback: EstimateMeter, notes: list[str] | None = None) -> None:
        self.sensors = sensors
        self.fallback = fallback
        self.notes = list(notes or [])
        self._active: list[CounterMeter] = []

    @property
    def source(self) -> EnergySource:
        """The source the reading will have if nothing fails (before start: the sensors found)."""
        active = self._active or self.sensors
        if not active:
            return "estimate"
        return "rapl+nvml" if {m.source for m in active} == {"rapl", "nvml"} else active[0].source

    def start(self) -> None:
        self._active = []
        for meter in self.sensors:
            try:
                meter.start()
                self._active.append(meter)
            except SensorError as exc:
                self.notes.append(f"{meter.source} could not start ({exc}); using the next source")
        self.fallback.start()

    def stop(self) -> EnergyReading:
        estimate = self.fallback.stop()
        readings: list[EnergyReading] = []
        failed = False
        for meter in self._active:
            try:
                readings.append(meter.stop())
            except Exception as exc:  # stop never raises: degrade and say why
                failed = True
                self.notes.append(f"{meter.source} failed during the run ({exc}); fell back to the estimate")
        if failed or not readings:
            for reading in readings:
                self.notes.append(f"{reading.source} alone measured {reading.joules:.1f} J ({reading.scope})")
            estimate.notes = self.notes + estimate.notes
            return estimate
        return _combine(readings, self.notes)


def _total(values: list[float | None]) -> float | None:
    """The sum, or None when any part is unknown (a partial sum would claim a smaller scope)."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _combine(readings: list[EnergyReading], notes: list[str]) -> EnergyReading:
    if len(readings) == 1:
        only = readings[0]
        only.notes = notes + only.notes
        return only
    return EnergyReading(
        source="rapl+nvml",
        scope=" + ".join(r.scope for r in readings),
        joules=sum(r.joules or 0.0 for r in readings),
        idle_j=_total([r.idle_j for r in readings]),
        notes=notes + [n for r in readings for n in r.notes],
        duration_s=max(r.duration_s or 0.0 for r in readings),
        idle_power_w=_total([r.idle_power_w for r in readings]),
    )


def select_meter(
    profile: HardwareProfile,
    native: bool,
    idle_s: float = DEFAULT_IDLE_S,
    powercap_root: Path = POWERCAP,
    nvml_api: NvmlApi | None = None,
) -> MeterChain:
    """The best meter for a cell: host sensors when the profile is this host, else the estimate."""
    estimate = EstimateMeter(profile.power, profile.cores)
    if not native:
        note = (
            f"profile '{profile.name}' is emulated on this host: sensors measure the host, not the device, "
            "so energy is estimated from the profile's power model"
        )
        return MeterChain([], estimate, [note])
    sensors: list[CounterSensor] = [RaplSensor(powercap_root), NvmlSensor(nvml_api)]
    meters: list[CounterMeter] = []
    notes: list[str] = []
    for sensor in sensors:
        try:
            sensor.open()
            meters.append(CounterMeter(sensor, idle_s=idle_s))
        except SensorError as exc:
            why = "unavailable" if isinstance(exc, SensorUnavailable) else "unreadable"
            notes.append(f"{sensor.source} {why}: {exc}")
        finally:
            sensor.close()
    return MeterChain(meters, estimate, notes)
