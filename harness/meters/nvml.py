"""NVIDIA GPU energy through NVML, behind a small seam (``NvmlApi``) that tests can replace.

Volta and newer GPUs have a total-energy counter (mJ, updated about every 100 ms); older ones only
report power (mW), integrated by a sampling thread so both look the same to ``CounterMeter``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.meters.periodic import Ticker
from harness.meters.sensor import EnergySource, SensorError, SensorUnavailable


class NvmlNotSupported(SensorError):
    """The device does not support this query (e.g. no energy counter before Volta)."""


class NvmlApi(Protocol):
    """The few NVML calls the harness uses. Errors: SensorUnavailable, NvmlNotSupported, SensorError."""

    def init(self) -> None: ...

    def shutdown(self) -> None: ...

    def device_count(self) -> int: ...

    def name(self, index: int) -> str: ...

    def total_energy_mj(self, index: int) -> int: ...

    def power_mw(self, index: int) -> int: ...

    def process_memory_mb(self, index: int, pid: int) -> float | None: ...


class PynvmlApi:
    """The real NVML through ``pynvml`` (package ``nvidia-ml-py``)."""

    def __init__(self) -> None:
        self._nvml: Any = None

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        nvml = self._nvml
        try:
            return fn(*args)
        except nvml.NVMLError_NotSupported as exc:
            raise NvmlNotSupported(str(exc)) from None
        except nvml.NVMLError as exc:
            raise SensorError(f"NVML: {exc}") from None

    def init(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise SensorUnavailable("pynvml is not installed: pip install nvidia-ml-py") from None
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except (pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded) as exc:
            raise SensorUnavailable(f"no NVIDIA driver ({exc})") from None
        except pynvml.NVMLError as exc:
            raise SensorUnavailable(f"NVML failed to initialise: {exc}") from None

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()

    def _handle(self, index: int) -> Any:
        return self._call(self._nvml.nvmlDeviceGetHandleByIndex, index)

    def device_count(self) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetCount))

    def name(self, index: int) -> str:
        name = self._call(self._nvml.nvmlDeviceGetName, self._handle(index))
        return name.decode() if isinstance(name, bytes) else str(name)

    def total_energy_mj(self, index: int) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, self._handle(index)))

    def power_mw(self, index: int) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetPowerUsage, self._handle(index)))

    def process_memory_mb(self, index: int, pid: int) -> float | None:
        for proc in self._call(self._nvml.nvmlDeviceGetComputeRunningProcesses, self._handle(index)):
            if proc.pid == pid and proc.usedGpuMemory is not None:
                return float(proc.usedGpuMemory) / 2**20
        return None


class NvmlSensor:
    """GPU energy: the total-energy counter where every device has one, else power integrated by trapezoids."""

    source: EnergySource = "nvml"

    def __init__(
        self,
        api: NvmlApi | None = None,
        power_interval_s: float = 0.1,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api: NvmlApi = api or PynvmlApi()
        self.power_interval_s = power_interval_s
        self.background = background
        self.clock = clock
        self.indices: list[int] = []
        self.scope = "gpu (NVML)"
        self._integrating = False  # no energy counter: power is integrated into _joules
        self._joules: dict[int, float] = {}
        self._last: dict[int, tuple[float, float]] = {}  # (time, watts) of each device's last power sample
        self._lock = threading.Lock()
        self._ticker: Ticker | None = None

    def _sample_power(self) -> None:
        now = self.clock()
        watts = {i: self.api.power_mw(i) / 1000.0 for i in self.indices}
        with self._lock:
            for i, w in watts.items():
                if i in self._last:
                    t_prev, w_prev = self._last[i]
                    self._joules[i] += (w + w_prev) / 2 * (now - t_prev)
                self._last[i] = (now, w)

    def open(self) -> None:
        self.api.init()
        self.indices = list(range(self.api.device_count()))
        if not self.indices:
            raise SensorUnavailable("NVML found no NVIDIA GPU")
        try:
            for i in self.indices:
                self.api.total_energy_mj(i)
            how = "total-energy counter"
        except NvmlNotSupported:
            self._integrating, self._joules, self._last = True, dict.fromkeys(self.indices, 0.0), {}
            self._sample_power()
            if self.background:
                self._ticker = Ticker(self._sample_power, self.power_interval_s, "nvml-power", 5.0, (SensorError,))
                self._ticker.start()
            how = f"power integrated every {self.power_interval_s}s"
        self.scope = f"gpu {','.join(map(str, self.indices))} (NVML {how})"

    def read(self) -> dict[str, float]:
        if not self._integrating:
            return {f"gpu{i}": self.api.total_energy_mj(i) / 1000.0 for i in self.indices}
        if self._ticker is not None and self._ticker.error is not None:
            raise SensorError(self._ticker.error)
        self._sample_power()
        return {f"gpu{i}": j for i, j in self._joules.items()}

    def wrap_j(self, domain: str) -> float | None:
        return None  # 64-bit millijoule counter / our own float integral

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self.api.shutdown()


def probe(api: NvmlApi | None = None) -> tuple[bool, str]:
    """Whether NVML can measure energy here, and a one-line reason or description."""
    sensor = NvmlSensor(api, background=False)
    try:
        sensor.open()
        names = ", ".join(sensor.api.name(i) for i in sensor.indices)
        return True, f"{names}: {sensor.scope}"
    except SensorError as exc:
        return False, str(exc)
    finally:
        sensor.close()
