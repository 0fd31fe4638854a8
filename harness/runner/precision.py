"""When a latency scenario has measured enough: a precision target instead of a request count.

A scenario with ``target_ci: 0.02`` keeps sampling a point until the 95% interval of its median
E2E latency lies within ±2% of the median, once it has at least ``min_requests`` requests over at
least ``min_duration_s`` (HF LLM-Perf: >= 10 iterations and >= 10 s), and stops regardless at
``max_requests`` or the scenario's ``max_duration_s``. The interval is the distribution-free one
of a quantile (order statistics, binomial coverage; ``scipy.stats.quantile_test``): latency is
skewed, so no normal approximation, and no resampling per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import quantile_test

from harness.config.suite import PerfScenario

StopReason = Literal["target_met", "max_requests", "max_duration", "requests"]


@dataclass(frozen=True)
class MedianInterval:
    """The median of a sample and the 95% interval around it; ``rel_halfwidth`` is the larger
    distance from the median to either end, as a share of the median (inf while undefined)."""

    median: float
    low: float
    high: float

    @property
    def rel_halfwidth(self) -> float:
        if not math.isfinite(self.low) or not math.isfinite(self.high) or self.median <= 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / self.median


def median_interval(values: list[float], level: float = 0.95) -> MedianInterval:
    """Median and its distribution-free interval; the ends are nan while the sample is too small."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return MedianInterval(math.nan, math.nan, math.nan)
    median = float(np.median(data))
    ci = quantile_test(data, q=median, p=0.5).confidence_interval(level)
    return MedianInterval(median, float(ci.low), float(ci.high))


def stop_reason(
    scenario: PerfScenario, measured: list[float], attempted: int, elapsed_s: float, total_elapsed_s: float
) -> StopReason | None:
    """Why a point stops after its latest measured request, or None to keep sampling.

    ``measured`` holds the point's successful E2E latencies so far, ``attempted`` its measured
    requests including failed ones, ``elapsed_s`` the time since its first measured request,
    ``total_elapsed_s`` the time since the scenario started.
    """
    if total_elapsed_s > scenario.max_duration_s:
        return "max_duration"
    if scenario.target_ci is None:
        return None  # a fixed count: the caller stops at scenario.requests
    bounds = scenario.precision_bounds()
    enough = len(measured) >= bounds.min_requests and elapsed_s >= bounds.min_duration_s
    if enough and median_interval(measured).rel_halfwidth <= scenario.target_ci:
        return "target_met"
    if attempted >= bounds.max_requests:
        return "max_requests"
    return None
