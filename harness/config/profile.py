"""Hardware profiles: the device a workload targets, its limits, power model and cost."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.config.loading import StrictModel


class Accelerator(StrictModel):
    """A GPU or NPU the device has; ``kind: none`` for CPU-only devices."""

    kind: Literal["none", "gpu", "npu"] = "none"
    name: str = ""
    memory_gb: float | None = Field(default=None, gt=0, description="Datasheet memory, GB (read as GiB).")
    memory_mb: float | None = Field(default=None, gt=0, description="Reported by a detected GPU, MiB; wins.")

    @model_validator(mode="after")
    def _gpu_needs_memory(self) -> Accelerator:
        if self.kind != "none" and self.memory_gb is None and self.memory_mb is None:
            raise ValueError(f"an accelerator of kind '{self.kind}' needs memory_gb")
        return self


class PowerModel(StrictModel):
    """Idle and full-load power of the whole device, with where each figure comes from."""

    idle_watts: float = Field(gt=0, description="Whole-device draw when idle, in watts.")
    max_watts: float = Field(gt=0, description="Whole-device draw at full load, in watts.")
    source: str = Field(min_length=1, description="Datasheet, measurement or review the figures come from.")
    idle_source: str = Field(default="", description="Where idle_watts comes from, when it differs from source.")
    max_source: str = Field(default="", description="Where max_watts comes from, when it differs from source.")

    @model_validator(mode="after")
    def _max_above_idle(self) -> PowerModel:
        if self.max_watts < self.idle_watts:
            raise ValueError("max_watts must be at least idle_watts")
        return self


class CostModel(StrictModel):
    """What running the device costs."""

    usd_per_hour: float = Field(ge=0, description="Rental or amortised hardware cost per hour.")
    usd_per_kwh: float = Field(default=0.15, ge=0, description="Electricity price.")
    source: str = Field(default="", description="Where the prices come from.")


class PerformanceModel(BaseModel):
    """The figures a roofline projection needs (docs/profiles.md), each with where it comes from.
    The projection scales ``basis: peak`` figures (datasheet maxima) by a sustained fraction before use."""

    model_config = ConfigDict(extra="forbid")

    architecture: str = Field(min_length=1, description="CPU instruction set (x86_64, aarch64) of the cores.")
    memory_bandwidth_gbs: float = Field(gt=0, description="DRAM bandwidth the CPU cores can use, GB/s.")
    memory_bandwidth_source: str = Field(min_length=1, description="Where memory_bandwidth_gbs comes from.")
    cpu_gflops_per_core: float = Field(gt=0, description="FP32 FMA throughput of one core, GFLOP/s.")
    cpu_compute_source: str = Field(min_length=1, description="Where cpu_gflops_per_core comes from.")
    accelerator_bandwidth_gbs: float | None = Field(default=None, gt=0, description="GPU/NPU memory bandwidth, GB/s.")
    accelerator_gflops: float | None = Field(default=None, gt=0, description="GPU/NPU dense FP16 throughput, GFLOP/s.")
    accelerator_source: str = Field(default="", description="Where the accelerator figures come from.")
    storage_read_mbs: float | None = Field(default=None, gt=0, description="Sequential read of model storage, MB/s.")
    storage_source: str = Field(default="", description="Where storage_read_mbs comes from.")
    basis: Literal["peak", "measured"] = Field(default="peak", description="Datasheet maxima or sustained figures.")
    verified: bool = Field(default=False, description="False: figures not yet checked against the cited source.")

    @model_validator(mode="after")
    def _sources_for_optional_figures(self) -> PerformanceModel:
        if (self.accelerator_bandwidth_gbs or self.accelerator_gflops) and not self.accelerator_source:
            raise ValueError("accelerator figures need accelerator_source")
        if self.storage_read_mbs and not self.storage_source:
            raise ValueError("storage_read_mbs needs storage_source")
        return self


class HardwareProfile(StrictModel):
    """A target device. ``host`` is detected from this machine."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    device_class: Literal["edge", "mobile", "laptop", "desktop", "server", "cloud", "host"] = Field(alias="class")
    cores: int = Field(ge=1, description="CPU cores usable by the model (pinned with CPU affinity when emulated).")
    threads: int | None = Field(default=None, ge=1, description="Inference threads (default: cores).")
    memory_mb: float = Field(gt=0, description="Memory budget for one model process, in MiB.")
    accelerator: Accelerator = Field(default_factory=Accelerator)
    power: PowerModel
    cost: CostModel
    performance: PerformanceModel | None = Field(default=None, description="Roofline figures (host -> device).")
    extends: str | None = None
    sources: list[str] = Field(default_factory=list, description="Citations for the figures above.")

    @property
    def effective_threads(self) -> int:
        return self.threads or self.cores

    @property
    def memory_gb(self) -> float:
        """The memory budget in GiB, as the report prints it."""
        return self.memory_mb / 1024
