"""What one cell is: everything its worker process needs, serialisable as JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.config.models import ModelSpec
from harness.config.profile import HardwareProfile
from harness.config.suite import PerfScenario

# Exit code a worker uses when its memory passed the profile's budget.
EXIT_OVER_BUDGET = 75


class CellSpec(BaseModel):
    """The work of one (model, profile) pair."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    cell_id: str
    run_dir: str
    model: ModelSpec
    profile: HardwareProfile
    emulated_on: str | None = None
    tasks: list[str] = Field(default_factory=list)
    limit: int | None = None
    seed: int = 1234
    data_dir: str | None = None
    scenarios: list[PerfScenario] = Field(default_factory=list)
    spawn_time: float = 0.0
    enforce_memory: bool = True
    eval_concurrency: int | None = Field(
        default=None, ge=1, description="--eval-concurrency (None: the backend's max_concurrency, else a default)."
    )
    self_check: list[str] = Field(default_factory=list, description="Tasks whose answers the model checks itself.")
    safe_retry: str | None = Field(
        default=None, description="A retry after the worker crashed (why): every backend uses its safest settings."
    )


def cell_id_for(model: str, profile: str) -> str:
    return f"{model}@{profile}"
