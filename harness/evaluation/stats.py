"""Uncertainty for every score: closed forms where they exist, a seeded bootstrap otherwise."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats import percentile_interval, resample_index, t_interval, wilson_interval


@dataclass(frozen=True)
class Estimate:
    value: float
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str


def mean_estimate(values: Sequence[float]) -> Estimate:
    """Mean with its standard error (sample sd / sqrt n, as lm-eval reports it) and a 95% CI: Wilson for
    binary values (sane at 0 %, 100 % and small n), else a t interval."""
    data = np.asarray(values, dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(math.nan, None, None, None, 0, "none")
    mean = float(data.mean())
    stderr = float(data.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    if np.isin(data, (0.0, 1.0)).all():
        return Estimate(mean, stderr, *wilson_interval(int(data.sum()), n), n, "wilson")
    if stderr is None:
        return Estimate(mean, None, None, None, n, "t")
    low, high = t_interval(mean, stderr, n - 1)
    if data.min() >= 0.0 and data.max() <= 1.0:  # a bounded score (a share, ROUGE): so is its interval
        low, high = max(low, 0.0), min(high, 1.0)
    return Estimate(mean, stderr, low, high, n, "t")


def bootstrap_estimate(
    items: Sequence[object], aggregate: Callable[[list[object]], float], seed: int, iters: int = 1000
) -> Estimate:
    """Percentile bootstrap over items for an aggregate with no closed-form error (corpus BLEU, F1)."""
    n = len(items)
    if n == 0:
        return Estimate(math.nan, None, None, None, 0, "none")
    value = float(aggregate(list(items)))
    rows = resample_index(n, iters, np.random.default_rng(seed))
    draws = np.asarray([float(aggregate([items[i] for i in row])) for row in rows])
    return Estimate(value, float(draws.std(ddof=1)), *percentile_interval(draws, 0.95), n, "bootstrap")
