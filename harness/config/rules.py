"""Gate rules (``gate.yaml``): which metrics may not get worse, by how much, for which tier.

Metric names are checked here, so a typo fails when the file is loaded, naming its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.config.loading import StrictModel
from harness.config.models import Tier
from harness.metrics import CELL_METRICS as CELL_METRICS_
from harness.metrics import REQUEST_METRICS, Better, is_speed

Source = Literal["items", "requests", "cells"]

# Gate names of per-request fields (requests.parquet) and of one-number-per-cell metrics, from the registry.
REQUEST_FIELDS: dict[str, tuple[str, Better, str]] = {
    m.column.removesuffix("_s"): (m.column, m.better, m.unit) for m in REQUEST_METRICS if m.better
}
REQUEST_STATS = ("mean", "p50", "p90", "p95", "p99")
CELL_METRICS: dict[str, tuple[Better, str]] = {m.column: (m.better, m.unit) for m in CELL_METRICS_ if m.better}
CELL_PREFIX = "cell:"
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric name means: where its data lives and which direction is worse."""

    name: str
    source: Source
    direction: Better
    unit: str
    column: str = ""  # requests/cells column ("" for accuracy)
    stat: str = ""  # mean|p50|p90|p95|p99 for request metrics
    task: str | None = None  # accuracy:<task>; None pools every task

    @property
    def is_accuracy(self) -> bool:
        return self.source == "items"

    @property
    def is_speed(self) -> bool:
        """A timing or throughput metric (the registry's kind): judged only on the same hardware."""
        return bool(self.column) and is_speed(self.column)


def parse_metric(name: str) -> MetricInfo:
    """The meaning of a metric name; ValueError listing the known names when it is unknown."""
    if name == "accuracy":
        return MetricInfo(name, "items", "higher", "")
    if name.startswith("accuracy:") and len(name) > len("accuracy:"):
        return MetricInfo(name, "items", "higher", "", task=name.split(":", 1)[1])
    if name in CELL_METRICS:
        direction, unit = CELL_METRICS[name]
        return MetricInfo(name, "cells", direction, unit, column=name)
    if name.startswith(CELL_PREFIX) and _COLUMN_RE.match(name[len(CELL_PREFIX) :]):
        return MetricInfo(name, "cells", "lower", "", column=name[len(CELL_PREFIX) :])
    field, _, stat = name.rpartition("_")
    if field in REQUEST_FIELDS and stat in REQUEST_STATS:
        column, direction, unit = REQUEST_FIELDS[field]
        return MetricInfo(name, "requests", direction, unit, column=column, stat=stat)
    raise ValueError(
        f"unknown metric '{name}'; known: accuracy, accuracy:<task>, "
        f"{{{','.join(REQUEST_FIELDS)}}}_{{{','.join(REQUEST_STATS)}}}, {', '.join(CELL_METRICS)}, "
        f"{CELL_PREFIX}<cells column>"
    )


class GateRule(StrictModel):
    """One metric that may not regress, for the cells its selectors match."""

    metric: str = Field(description="Metric name, e.g. accuracy, accuracy:arithmetic, ttft_p95, peak_rss_mb.")
    name: str | None = Field(default=None, min_length=1, description="Shown in outputs (default: the metric).")
    tier: Tier | None = Field(default=None, description="Only cells of this tier (default: every tier in the run).")
    model: str | None = Field(default=None, min_length=1, description="Only this model (default: every model).")
    profile: str | None = Field(default=None, min_length=1, description="Only this hardware profile.")
    floor: float | None = Field(default=None, description="The run's value may not be below this.")
    ceiling: float | None = Field(default=None, description="The run's value may not be above this.")
    max_drop_points: float | None = Field(default=None, ge=0, description="Accuracy only: largest drop in points.")
    max_drop_pct: float | None = Field(default=None, ge=0, le=100, description="Largest allowed drop, % of baseline.")
    max_drop: float | None = Field(default=None, ge=0, description="Largest allowed drop, in the metric's unit.")
    max_increase_pct: float | None = Field(default=None, ge=0, description="Largest allowed rise, % of baseline.")
    max_increase: float | None = Field(default=None, ge=0, description="Largest allowed rise, in the metric's unit.")
    # timing/throughput only: judge the figure over each run's own host roofline, so runs on different hardware compare
    normalize: Literal["roofline"] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        parse_metric(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GateRule:
        info = parse_metric(self.metric)
        drops = {"max_drop_points": self.max_drop_points, "max_drop_pct": self.max_drop_pct, "max_drop": self.max_drop}
        rises = {"max_increase_pct": self.max_increase_pct, "max_increase": self.max_increase}
        given = [k for k, v in {**drops, **rises}.items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one relative tolerance, not {' and '.join(given)}")
        wrong, right = (
            (rises, "max_drop_pct or max_drop") if info.direction == "higher" else (drops, " or ".join(rises))
        )
        if given and given[0] in wrong:
            raise ValueError(f"{self.metric} is better when {info.direction}; use {right}, not {given[0]}")
        if self.max_drop_points is not None and not info.is_accuracy:
            raise ValueError("max_drop_points applies to accuracy metrics only")
        if info.is_accuracy:
            for key in ("floor", "ceiling"):
                value = getattr(self, key)
                if value is not None and not 0 <= value <= 1:
                    raise ValueError(f"accuracy {key} is a fraction between 0 and 1, got {value}")
        if self.normalize is not None and not info.is_speed:
            raise ValueError(f"normalize applies to timing and throughput metrics only, not {self.metric}")
        if self.normalize is not None and (self.floor is not None or self.ceiling is not None):
            raise ValueError("normalize compares with the baseline; give a relative tolerance, not a floor or ceiling")
        if not given and self.floor is None and self.ceiling is None:
            raise ValueError("a rule needs a floor, a ceiling or a tolerance (max_drop_points, max_increase_pct ...)")
        return self

    @property
    def info(self) -> MetricInfo:
        return parse_metric(self.metric)

    @property
    def label(self) -> str:
        return self.name or self.metric

    @property
    def tolerance(self) -> tuple[str, float] | None:
        """The relative tolerance as (kind, value): kind is points, pct or abs."""
        kinds = ("points", "pct", "pct", "abs", "abs")
        values = (self.max_drop_points, self.max_drop_pct, self.max_increase_pct, self.max_drop, self.max_increase)
        return next(((kind, value) for kind, value in zip(kinds, values, strict=True) if value is not None), None)


class StatSettings(StrictModel):
    """How two runs are compared: the same settings serve ``compare``, the report and the gate."""

    level: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence level of intervals and tests.")
    alpha: float | None = Field(default=None, gt=0, lt=0.5, description="Significance level; sets level = 1 - alpha.")
    min_items: int = Field(default=30, ge=1, description="Fewer paired accuracy items than this: inconclusive.")
    min_requests: int = Field(default=10, ge=1, description="Fewer measured requests than this: inconclusive.")
    bootstrap_iterations: int = Field(default=2000, ge=200, le=100_000, description="Bootstrap resamples.")
    seed: int = Field(default=0, description="Seed of the bootstrap, so verdicts are reproducible.")

    @model_validator(mode="after")
    def _alpha_or_level(self) -> StatSettings:
        if self.alpha is not None:
            if "level" in self.model_fields_set and abs(self.level - (1 - self.alpha)) > 1e-9:
                raise ValueError("give level or alpha, not both")
            self.level = 1 - self.alpha
        return self

    @property
    def significance(self) -> float:
        return 1 - self.level


class GateRules(StatSettings):
    """Statistical settings and the list of rules of one gate."""

    on_inconclusive: Literal["fail", "warn"] = Field(default="fail", description="Fail the gate, or only warn.")
    # whether a not_comparable speed rule (hardware fingerprints differ or are unknown) fails the gate
    other_hardware: Literal["skip", "fail"] = "skip"
    rules: list[GateRule] = Field(min_length=1)
