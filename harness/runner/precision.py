"""When a latency scenario has measured enough: a precision target instead of a request count.

``target_ci: 0.02`` samples a point until the 95% interval of its median E2E lies within ±2% of the
median (after ``min_requests`` over ``min_duration_s``, as HF LLM-Perf; at most ``max_requests``).
The interval is the distribution-free one of a quantile: latency is skewed, so no normal
approximation, and no resampling per request.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from harness.config.suite import PerfScenario
from harness.stats import median_interval

StopReason = Literal["target_met", "max_requests", "max_duration", "requests"]


def median_ci_rel(values: list[float]) -> float:
    """How precisely a sample pins its median: the larger distance from the median to either end of
    its distribution-free 95% interval, as a share of the median (inf while that is undefined)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return math.inf
    median, (low, high) = float(np.median(data)), median_interval(data)
    if not math.isfinite(low) or not math.isfinite(high) or median <= 0:
        return math.inf
    return max(median - low, high - median) / median


def stop_reason(
    scenario: PerfScenario, measured: list[float], attempted: int, elapsed_s: float, total_elapsed_s: float
) -> StopReason | None:
    """Why a point stops after its latest measured request, or None to keep sampling. ``measured``: its
    successful E2E latencies; ``attempted`` counts failed ones too; ``elapsed_s`` runs from its first
    measured request, ``total_elapsed_s`` from the scenario's start."""
    if total_elapsed_s > scenario.max_duration_s:
        return "max_duration"
    if scenario.target_ci is None:
        return "requests" if attempted >= scenario.requests else None
    bounds = scenario.precision_bounds()
    enough = len(measured) >= bounds.min_requests and elapsed_s >= bounds.min_duration_s
    if enough and median_ci_rel(measured) <= scenario.target_ci:
        return "target_met"
    if attempted >= bounds.max_requests:
        return "max_requests"
    return None
