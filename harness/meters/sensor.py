"""The common shape of energy readings and of counter-based energy sensors (RAPL, NVML).

A sensor's counters are cumulative joules per domain, possibly wrapping; ``CounterMeter`` measures an
idle baseline first and polls now and then so that no wrap-around is missed. Its ``SensorError`` is
caught by the chain in ``harness.meters.energy``, which degrades to the next source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from harness.meters.periodic import Ticker

EnergySource = Literal["rapl", "nvml", "rapl+nvml", "estimate", "none"]


class SensorError(Exception):
    """A sensor could not give a reading (unreadable counter, driver error)."""


class SensorUnavailable(SensorError):
    """A sensor does not exist or cannot be used on this machine; the message says why."""


@dataclass
class EnergyReading:
    """Energy of one measured window. ``low_j``/``high_j`` bound an estimate; sensors give a point."""

    source: EnergySource
    scope: str
    joules: float | None
    low_j: float | None = None
    high_j: float | None = None
    idle_j: float | None = None
    notes: list[str] = field(default_factory=list)
    duration_s: float | None = None
    idle_power_w: float | None = None

    @property
    def dynamic_j(self) -> float | None:
        """Energy above the idle baseline (total - idle power x duration)."""
        return None if self.joules is None or self.idle_j is None else self.joules - self.idle_j

    def columns(self) -> dict[str, Any]:
        """The cell-table columns of this reading."""
        return {
            "energy_source": self.source,
            "energy_scope": self.scope,
            "energy_j": self.joules,
            "energy_j_low": self.low_j,
            "energy_j_high": self.high_j,
            "energy_idle_j": self.idle_j,
            "energy_dynamic_j": self.dynamic_j,
            "energy_notes": "; ".join(self.notes),
        }


class CounterSensor(Protocol):
    """Cumulative energy counters of one sensor, in joules per domain."""

    source: EnergySource
    scope: str

    def open(self) -> None: ...  # prepare to read; raises SensorUnavailable

    def read(self) -> dict[str, float]: ...  # current counter values in joules; raises SensorError

    def wrap_j(self, domain: str) -> float | None: ...  # where ``domain``'s counter wraps to 0 (None: never)

    def close(self) -> None: ...  # release the sensor; never raises


class CounterMeter:
    """Idle baseline, then the work; wrap-safe deltas of a ``CounterSensor``."""

    def __init__(
        self,
        sensor: CounterSensor,
        idle_s: float = 2.0,
        poll_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sensor = sensor
        self.source: EnergySource = sensor.source
        self.idle_s = idle_s
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._total: dict[str, float] = {}
        self._t0 = 0.0
        self._idle_w: float | None = None
        self._ticker: Ticker | None = None

    def _delta(self, domain: str, previous: float, current: float) -> float:
        if current >= previous:
            return current - previous
        wrap = self.sensor.wrap_j(domain)
        if wrap is None:
            raise SensorError(f"{domain}: counter went backwards ({previous:.3f} J -> {current:.3f} J)")
        return current + wrap - previous

    def start(self) -> None:
        """Measure idle power for ``idle_s`` seconds, then start counting. Raises SensorError."""
        self.sensor.open()
        self._last, t_before = self.sensor.read(), self.clock()
        if self.idle_s > 0:
            self.sleep(self.idle_s)
            after, elapsed = self.sensor.read(), self.clock() - t_before
            idle_j = sum(self._delta(d, self._last[d], after[d]) for d in self._last)
            self._idle_w = idle_j / elapsed if elapsed > 0 else None
            self._last = after
        self._total = dict.fromkeys(self._last, 0.0)
        self._t0 = self.clock()
        if self.poll_s > 0:
            self._ticker = Ticker(self.poll, self.poll_s, f"{self.source}-poll", join_s=5.0, catch=(SensorError,))
            self._ticker.start()

    def poll(self) -> None:
        """Fold the counters' progress since the last read into the totals (catches every wrap)."""
        current = self.sensor.read()
        with self._lock:
            for domain, value in current.items():
                self._total[domain] += self._delta(domain, self._last[domain], value)
            self._last = current

    def stop(self) -> EnergyReading:
        """The reading since start. Raises SensorError if the sensor failed (the chain degrades)."""
        if self._ticker is not None:
            self._ticker.stop()
        try:
            if self._ticker is not None and self._ticker.error is not None:
                raise SensorError(self._ticker.error)
            self.poll()
        finally:
            self.sensor.close()
        duration = self.clock() - self._t0
        joules = sum(self._total.values())
        if joules <= 0:
            raise SensorError(f"counter did not advance in {duration:.3f}s (window shorter than its update period?)")
        idle_j = self._idle_w * duration if self._idle_w is not None else None
        notes = [f"idle baseline {self._idle_w:.2f} W over {self.idle_s:.1f}s"] if self._idle_w is not None else []
        return EnergyReading(
            source=self.source,
            scope=self.sensor.scope,
            joules=joules,
            idle_j=idle_j,
            notes=notes,
            duration_s=duration,
            idle_power_w=self._idle_w,
        )
