"""Suite files: which tasks and performance scenarios to run, and the decision constraints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class PerfScenario(BaseModel):
    """A latency/throughput scenario, bounded by request count and time.

    ``grid`` runs every (prompt_tokens, output_tokens) pair single-stream, like llama-bench's
    pp/tg; ``concurrency`` and ``rate`` load a server backend.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: Literal["grid", "concurrency", "rate"] = "grid"
    prompt_tokens: list[int] = Field(default=[64], min_length=1, description="Prompt lengths in tokens.")
    output_tokens: list[int] = Field(default=[32], min_length=1, description="Output lengths in tokens.")
    requests: int = Field(default=5, ge=1, le=100_000, description="Measured requests per grid point / level.")
    warmup: int = Field(default=1, ge=0, le=1000, description="Warm-up requests, excluded and counted.")
    repetitions: int = Field(default=1, ge=1, le=100, description="Repeats of the whole scenario.")
    concurrency: list[int] = Field(default=[1], min_length=1, description="Concurrency levels (kind=concurrency).")
    rate: float | None = Field(default=None, gt=0, description="Requests per second (kind=rate).")
    arrival: Literal["constant", "poisson"] = "constant"
    max_duration_s: float = Field(default=300.0, gt=0, description="Stop the scenario after this long.")
    request_timeout_s: float = Field(default=120.0, gt=0)
    slo_ttft_s: float | None = Field(default=None, gt=0, description="Goodput SLO on TTFT.")
    slo_tpot_s: float | None = Field(default=None, gt=0, description="Goodput SLO on TPOT.")
    slo_e2e_s: float | None = Field(default=None, gt=0, description="Goodput SLO on end-to-end latency.")

    @model_validator(mode="after")
    def _check_kind(self) -> PerfScenario:
        if any(n < 1 for n in self.prompt_tokens + self.output_tokens):
            raise ValueError("prompt_tokens and output_tokens must be at least 1")
        if any(c < 1 for c in self.concurrency):
            raise ValueError("concurrency levels must be at least 1")
        if self.kind == "rate" and self.rate is None:
            raise ValueError("kind 'rate' needs 'rate' (requests per second)")
        return self


class Constraints(BaseModel):
    """What the recommendation must satisfy."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    min_accuracy: float | None = Field(default=None, ge=0, le=1, description="Mean accuracy floor (0-1).")
    max_p95_e2e_s: float | None = Field(default=None, gt=0, description="p95 end-to-end latency SLO.")
    max_p95_ttft_s: float | None = Field(default=None, gt=0, description="p95 time-to-first-token SLO.")
    max_memory_mb: float | None = Field(default=None, gt=0, description="Peak resident memory budget.")
    objective: Literal["cheapest", "fastest", "most_accurate"] = "cheapest"


class SuiteSpec(BaseModel):
    """A named set of accuracy tasks and performance scenarios."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    tasks: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1, description="Items per task (None: all).")
    scenarios: list[PerfScenario] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    seed: int = 1234
    models: list[str] | None = Field(default=None, description="Model names (default: every runnable tier).")
    profiles: list[str] = Field(default=["host"])
    self_check: bool | list[str] = Field(
        default=False,
        description="Ask each model whether its own answer is correct (AutoMix-style confidence signal, "
        "an extra scored request per item, costed separately): true for every task, or a list of task names.",
    )

    def self_check_tasks(self, tasks: list[str]) -> list[str]:
        """Which of ``tasks`` get the self-check signal."""
        if self.self_check is True:
            return list(tasks)
        return [t for t in tasks if self.self_check and t in self.self_check]

    @model_validator(mode="after")
    def _not_empty(self) -> SuiteSpec:
        if not self.tasks and not self.scenarios:
            raise ValueError("a suite needs at least one task or one scenario")
        return self

    @field_validator("tasks")
    @classmethod
    def _unique_tasks(cls, tasks: list[str]) -> list[str]:
        # results are keyed by name: two entries of one name would merge their rows
        twice = duplicates(tasks)
        if twice:
            raise ValueError(f"task '{twice[0]}' is listed twice; each task may appear once")
        return tasks

    @field_validator("scenarios")
    @classmethod
    def _unique_scenarios(cls, scenarios: list[PerfScenario]) -> list[PerfScenario]:
        twice = duplicates([s.name for s in scenarios])
        if twice:
            raise ValueError(f"two scenarios are named '{twice[0]}'; give each its own name")
        return scenarios


def duplicates(names: list[str]) -> list[str]:
    """Names that appear more than once, in order of their second appearance."""
    seen: set[str] = set()
    twice: list[str] = []
    for name in names:
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    return twice
