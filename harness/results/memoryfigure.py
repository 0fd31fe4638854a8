"""Which memory figure judges a cell: GPU memory where the model ran on a GPU, else host RSS.

On a GPU the figure is the driver's per-process count (NVML, ``gpu_process_mb``): it holds the CUDA
context and non-PyTorch allocations (llama.cpp's buffers), which must fit on the card too. PyTorch's
``max_memory_allocated`` leaves out the context (hundreds of MiB) and the allocator's cache, so it would
call a model that does not fit a fit; without NVML its reserved peak stands in, labelled so. The fit
verdict, the memory constraint and the accuracy-vs-memory chart all read this one record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.results.values import finite_or_none

GPU_PROCESS = "gpu_process_mb"
GPU_RESERVED = "gpu_peak_reserved_mb"
GPU_ALLOCATED = "gpu_peak_allocated_mb"
HOST_RSS = "peak_rss_mb"

LABELS = {
    GPU_PROCESS: "GPU memory (NVML, process incl. CUDA context)",
    GPU_RESERVED: "GPU memory (PyTorch reserved; no NVML figure, CUDA context not included)",
    HOST_RSS: "host RSS",
}


@dataclass(frozen=True)
class MemoryFigure:
    """The figure a cell is judged by (MiB), the column it came from, and host RSS beside it."""

    mb: float | None
    column: str
    host_rss_mb: float | None

    @property
    def on_gpu(self) -> bool:
        return self.column != HOST_RSS

    @property
    def label(self) -> str:
        return LABELS[self.column]


def _positive(row: Mapping[str, Any], column: str) -> float | None:
    value = finite_or_none(row.get(column))
    return value if value is not None and value > 0 else None


def ran_on_gpu(row: Mapping[str, Any]) -> bool:
    """The driver charged the cell's process GPU memory, or PyTorch put tensors on a GPU.

    Judged from what was measured, not from a setting: a CPU cell on a GPU machine records 0 or
    nothing (torch without tensors on the card; no NVML process entry)."""
    return _positive(row, GPU_PROCESS) is not None or _positive(row, GPU_ALLOCATED) is not None


def judged_memory(row: Mapping[str, Any]) -> MemoryFigure:
    """The memory figure that decides fit, constraints and charts for one cells-table row."""
    rss = finite_or_none(row.get(HOST_RSS))
    if ran_on_gpu(row):
        for column in (GPU_PROCESS, GPU_RESERVED):
            value = _positive(row, column)
            if value is not None:
                return MemoryFigure(value, column, rss)
    return MemoryFigure(rss, HOST_RSS, rss)
