"""NVIDIA GPU energy through NVML, behind a small seam (``NvmlApi``) that tests can replace.

Volta and newer GPUs have a total-energy counter (mJ, updated about every 100 ms). Older ones
only report power (mW): a sampling thread integrates it over time (trapezoids) into a
cumulative counter, so both modes look the same to ``CounterMeter``.
"""

from __future__ import annotations

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
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass

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


class _PowerIntegrator:
    """Integrates polled power of each device into cumulative joules (trapezoid rule)."""

    def __init__(self, api: NvmlApi, indices: list[int], interval_s: float, clock: Callable[[], float]) -> None:
        self.api = api
        self.indices = indices
        self.clock = clock
        self.joules = dict.fromkeys(indices, 0.0)
        self._last: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._ticker = Ticker(self._background_sample, interval_s, "nvml-power", join_s=5.0)
        self.error: str | None = None

    def sample(self) -> None:
        now = self.clock()
        watts = {i: self.api.power_mw(i) / 1000.0 for i in self.indices}
        with self._lock:
            for i, w in watts.items():
                if i in self._last:
                    t_prev, w_prev = self._last[i]
                    self.joules[i] += (w + w_prev) / 2 * (now - t_prev)
                self._last[i] = (now, w)

    def start(self, background: bool) -> None:
        self.sample()
        if background:
            self._ticker.start()

    def _background_sample(self) -> None:
        if self.error is None:  # after a failure the sensor's read() reports it
            try:
                self.sample()
            except SensorError as exc:
                self.error = str(exc)

    def stop(self) -> None:
        self._ticker.stop()


class NvmlSensor:
    """GPU energy: the total-energy counter where every device has one, else integrated power."""

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
        self.mode = "counter"
        self.scope = "gpu (NVML)"
        self._integrator: _PowerIntegrator | None = None

    def open(self) -> None:
        self.api.init()
        count = self.api.device_count()
        if count == 0:
            raise SensorUnavailable("NVML found no NVIDIA GPU")
        self.indices = list(range(count))
        try:
            for i in self.indices:
                self.api.total_energy_mj(i)
            self.mode = "counter"
        except NvmlNotSupported:
            self.mode = "power"
            self._integrator = _PowerIntegrator(self.api, self.indices, self.power_interval_s, self.clock)
            self._integrator.start(self.background)
        how = "total-energy counter" if self.mode == "counter" else f"power integrated every {self.power_interval_s}s"
        self.scope = f"gpu {','.join(map(str, self.indices))} (NVML {how})"

    def read(self) -> dict[str, float]:
        if self._integrator is None:
            return {f"gpu{i}": self.api.total_energy_mj(i) / 1000.0 for i in self.indices}
        if self._integrator.error is not None:
            raise SensorError(self._integrator.error)
        self._integrator.sample()
        return {f"gpu{i}": j for i, j in self._integrator.joules.items()}

    def wrap_j(self, domain: str) -> float | None:
        return None  # 64-bit millijoule counter / our own float integral

    def close(self) -> None:
        if self._integrator is not None:
            self._integrator.stop()
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
