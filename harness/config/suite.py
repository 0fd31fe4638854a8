"""Suite files: which tasks and performance scenarios to run, and the decision constraints."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from harness.config.loading import StrictModel, base_dir, first_duplicate
from harness.errors import UserError
from harness.traces import check_trace, trace_path

REQUESTS_MAX = 100_000


@dataclass(frozen=True)
class PrecisionBounds:
    """Bounds of a precision-target scenario (docs/metrics.md: HF LLM-Perf's >= 10 iterations and >= 10 s)."""

    min_requests: int = 10
    min_duration_s: float = 10.0
    max_requests: int = 500


class PerfScenario(StrictModel):
    """A latency/throughput scenario, bounded by request count and time. ``grid`` runs each (prompt, output)
    length pair single-stream (like llama-bench's pp/tg); the other kinds load a server backend."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: Literal["grid", "concurrency", "rate", "sweep", "trace", "sessions"] = "grid"
    prompt_tokens: list[int] = Field(default=[64], min_length=1, description="Prompt lengths in tokens.")
    output_tokens: list[int] = Field(default=[32], min_length=1, description="Output lengths in tokens.")
    requests: int = Field(default=5, ge=1, le=REQUESTS_MAX, description="Measured requests per grid point / level.")
    warmup: int = Field(default=1, ge=0, le=1000, description="Warm-up requests, excluded and counted.")
    repetitions: int = Field(default=1, ge=1, le=100, description="Repeats of the whole scenario.")
    concurrency: list[int] = Field(default=[1], min_length=1, description="Concurrency levels (kind=concurrency).")
    rate: float | None = Field(default=None, gt=0, description="Requests per second (kind=rate).")
    arrival: Literal["constant", "poisson"] = "constant"
    sweep_rates: int = Field(default=5, ge=1, le=100, description="kind=sweep: rates from single-stream to the max.")
    trace: str | None = Field(default=None, description="kind=trace: a CSV/JSONL trace path or a shipped trace's name.")
    time_scale: float = Field(default=1.0, gt=0, description="kind=trace: replay gaps x this (0.5: twice as fast).")
    window_s: tuple[float, float] | None = Field(
        default=None, description="kind=trace: [start, end) in trace seconds after its first request."
    )
    turns: int = Field(default=3, ge=1, le=100, description="kind=sessions: turns per conversation.")
    think_time_s: float = Field(default=0.0, ge=0, description="kind=sessions: pause before each next turn.")
    prefix_tokens: int = Field(default=0, ge=0, le=1_000_000, description="Shared system-prompt tokens (prefix cache).")
    # a point whose client p95 dispatch delay exceeds this share of its median TTFT measures the client, not the server
    client_limited_share: float = Field(default=0.5, gt=0)
    max_duration_s: float = Field(default=300.0, gt=0, description="Stop the scenario after this long.")
    request_timeout_s: float = Field(default=120.0, gt=0)
    slo_ttft_s: float | None = Field(default=None, gt=0, description="Goodput SLO on TTFT.")
    slo_tpot_s: float | None = Field(default=None, gt=0, description="Goodput SLO on TPOT.")
    slo_e2e_s: float | None = Field(default=None, gt=0, description="Goodput SLO on end-to-end latency.")
    # grid only: sample each point until the 95% CI of its median E2E is within this share (0.02: +-2%)
    target_ci: float | None = Field(default=None, gt=0, lt=1, description="Precision target; ignores 'requests'.")
    min_requests: int | None = Field(
        default=None, ge=1, le=100_000, description="With target_ci: measured requests before it may stop (10)."
    )
    min_duration_s: float | None = Field(
        default=None, ge=0, description="With target_ci: seconds of measuring before it may stop (10, LLM-Perf)."
    )
    max_requests: int | None = Field(
        default=None, ge=1, le=100_000, description="With target_ci: stop here even if the target is not met (500)."
    )

    def precision_bounds(self) -> PrecisionBounds:
        """The bounds of a ``target_ci`` scenario, defaults filled in (docs/metrics.md)."""
        return PrecisionBounds(**self._given_bounds())

    def _given_bounds(self) -> dict[str, Any]:
        """The bound fields this scenario sets (the same names as ``PrecisionBounds``)."""
        return {f.name: value for f in fields(PrecisionBounds) if (value := getattr(self, f.name)) is not None}

    @model_validator(mode="after")
    def _check_precision(self) -> PerfScenario:
        given = list(self._given_bounds())
        if self.target_ci is None and given:
            raise ValueError(f"{', '.join(given)} only apply with target_ci (the precision target)")
        if self.target_ci is not None:
            if self.kind != "grid":
                raise ValueError("target_ci applies to kind 'grid' scenarios only")
            bounds = self.precision_bounds()
            if bounds.min_requests > bounds.max_requests:
                raise ValueError(f"min_requests ({bounds.min_requests}) is above max_requests ({bounds.max_requests})")
        return self

    @model_validator(mode="after")
    def _check_kind(self, info: ValidationInfo) -> PerfScenario:
        if any(n < 1 for n in self.prompt_tokens + self.output_tokens):
            raise ValueError("prompt_tokens and output_tokens must be at least 1")
        if any(c < 1 for c in self.concurrency):
            raise ValueError("concurrency levels must be at least 1")
        if self.kind == "rate" and self.rate is None:
            raise ValueError("kind 'rate' needs 'rate' (requests per second)")
        if (self.kind == "trace") != (self.trace is not None):
            raise ValueError("'trace' (a trace file) goes with kind 'trace', and kind 'trace' needs one")
        if self.window_s is not None and not 0 <= self.window_s[0] < self.window_s[1]:
            raise ValueError(f"window_s {list(self.window_s)} must be [start, end) with 0 <= start < end")
        if self.trace is not None:
            try:
                self.trace = str(trace_path(self.trace, base_dir(info)))
                check_trace(Path(self.trace))
            except UserError as exc:
                raise ValueError(str(exc)) from None
            if "requests" not in self.model_fields_set:
                self.requests = REQUESTS_MAX  # a trace replays its whole window unless 'requests' caps it
        if self.kind == "sweep" and max(self.concurrency) < 2:
            raise ValueError("kind 'sweep' needs a 'concurrency' level of at least 2 for its throughput probe")
        return self


class Constraints(StrictModel):
    """What the recommendation must satisfy."""

    min_accuracy: float | None = Field(default=None, ge=0, le=1, description="Mean accuracy floor (0-1).")
    max_p95_e2e_s: float | None = Field(default=None, gt=0, description="p95 end-to-end latency SLO.")
    max_p95_ttft_s: float | None = Field(default=None, gt=0, description="p95 time-to-first-token SLO.")
    max_memory_mb: float | None = Field(default=None, gt=0, description="Peak resident memory budget.")
    objective: Literal["cheapest", "fastest", "most_accurate"] = "cheapest"


class FidelitySpec(BaseModel):
    """How a quantization rung's fidelity to its source is measured (docs/quantization.md)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, description="UTF-8 text file to score (default: the shipped text).")
    max_tokens: int = Field(default=1024, ge=16, le=1_000_000, description="Tokens of the text to score.")
    block_tokens: int = Field(default=256, ge=16, le=8192, description="Context of each evaluated block.")
    unit_tokens: int = Field(default=32, ge=1, le=4096, description="Consecutive positions per bootstrap unit.")


class SuiteSpec(StrictModel):
    """A named set of accuracy tasks and performance scenarios."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    tasks: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1, description="Items per task (None: all).")
    scenarios: list[PerfScenario] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    seed: int = 1234
    models: list[str] | None = Field(default=None, description="Model names (default: every runnable tier).")
    profiles: list[str] = Field(default=["host"])
    # under --executor ray, cells side by side on one node disturb each other's latency: off by default
    share_nodes: bool = False
    fidelity: FidelitySpec = Field(
        default_factory=FidelitySpec, description="Fidelity measurement for models labelled with a reference."
    )
    # ask each model whether its own answer is correct (AutoMix-style, a separately costed request per item)
    self_check: bool | list[str] = Field(default=False, description="True for every task, or a list of task names.")

    def self_check_tasks(self, tasks: list[str]) -> list[str]:
        """Which of ``tasks`` get the self-check signal."""
        return [t for t in tasks if self.self_check is True or t in (self.self_check or ())]

    @model_validator(mode="after")
    def _not_empty(self) -> SuiteSpec:
        if not self.tasks and not self.scenarios:
            raise ValueError("a suite needs at least one task or one scenario")
        return self

    @field_validator("tasks")
    @classmethod
    def _unique_tasks(cls, tasks: list[str]) -> list[str]:
        # results are keyed by name: two entries of one name would merge their rows
        twice = first_duplicate(tasks)
        if twice is not None:
            raise ValueError(f"task '{twice}' is listed twice; each task may appear once")
        return tasks

    @field_validator("scenarios")
    @classmethod
    def _unique_scenarios(cls, scenarios: list[PerfScenario]) -> list[PerfScenario]:
        twice = first_duplicate([s.name for s in scenarios])
        if twice is not None:
            raise ValueError(f"two scenarios are named '{twice}'; give each its own name")
        return scenarios
