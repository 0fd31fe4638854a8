"""GPU memory of the cell's own process, where there is a GPU.

Three figures that differ by design: PyTorch's tensors (``max_memory_allocated``) < its caching
allocator (``max_memory_reserved``) < what the driver charges the process (NVML, which adds the
CUDA context and non-PyTorch allocations such as llama.cpp's). Every field is None where it
cannot be known, never 0.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.meters.nvml import PynvmlApi
from harness.meters.sensor import SensorError


@dataclass
class GpuMemory:
    """Peak / current GPU memory in MiB, named as the cells table names it; None where unknown."""

    gpu_peak_allocated_mb: float | None = None
    gpu_peak_reserved_mb: float | None = None
    gpu_process_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if name != "notes"}


def _torch_cuda() -> Any:
    """torch.cuda if the cell already imported torch and CUDA works; never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return torch.cuda if torch.cuda.is_available() else None
    except Exception:
        return None


def gpu_memory() -> GpuMemory:
    """PyTorch peaks (if torch is in use) and NVML's per-process figure (if NVML works here)."""
    result = GpuMemory()
    cuda = _torch_cuda()
    if cuda is not None:
        result.gpu_peak_allocated_mb = cuda.max_memory_allocated() / 2**20
        result.gpu_peak_reserved_mb = cuda.max_memory_reserved() / 2**20
    api = PynvmlApi()
    try:
        api.init()
    except SensorError as exc:
        result.notes.append(f"no NVML process memory: {exc}")
        return result
    try:
        figures = [api.process_memory_mb(i, os.getpid()) for i in range(api.device_count())]
        result.gpu_process_mb = sum(known) if (known := [f for f in figures if f is not None]) else None
    except SensorError as exc:
        result.notes.append(f"NVML process memory unreadable: {exc}")
    finally:
        api.shutdown()
    return result
