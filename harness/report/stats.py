"""Small statistics the report and compare need: bootstrap intervals and paired/unpaired tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = 1.959963984540054


def bootstrap_percentile_ci(
    values: np.ndarray, q: float, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the ``q``-th percentile; None with fewer than 5 values."""
    data = np.asarray(values, dtype=float)
    if data.size < 5:
        return None
    rng = np.random.default_rng(seed)
    boots = _boot_percentiles(data, q, n_boot, rng)
    alpha = (1 - level) / 2
    return float(np.quantile(boots, alpha)), float(np.quantile(boots, 1 - alpha))


def _boot_percentiles(data: np.ndarray, q: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    # chunked so that 100k requests x 1000 resamples never needs one huge matrix
    out = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // max(data.size, 1)))
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = rng.integers(0, data.size, size=(stop - start, data.size))
        out[start:stop] = np.percentile(data[idx], q, axis=1)
    return out


@dataclass(frozen=True)
class RatioResult:
    ratio: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.low > 1 or self.high < 1


def bootstrap_ratio_ci(
    current: np.ndarray, baseline: np.ndarray, q: float, n_boot: int = 1000, seed: int = 0
) -> RatioResult | None:
    """Ratio current/baseline of the ``q``-th percentile, with an independent-resampling bootstrap CI."""
    cur = np.asarray(current, dtype=float)
    base = np.asarray(baseline, dtype=float)
    if cur.size < 5 or base.size < 5:
        return None
    point_base = float(np.percentile(base, q))
    if point_base <= 0:
        return None
    rng = np.random.default_rng(seed)
    boot_cur = _boot_percentiles(cur, q, n_boot, rng)
    boot_base = _boot_percentiles(base, q, n_boot, rng)
    valid = boot_base > 0
    ratios = boot_cur[valid] / boot_base[valid]
    if ratios.size == 0:
        return None
    # two-sided bootstrap p-value for "no change": how often a resample lands on the other side of 1
    tail = min(float(np.mean(ratios <= 1.0)), float(np.mean(ratios >= 1.0)))
    p_value = min(1.0, max(2 * tail, 1.0 / ratios.size))
    return RatioResult(
        float(np.percentile(cur, q)) / point_base,
        float(np.quantile(ratios, 0.025)),
        float(np.quantile(ratios, 0.975)),
        p_value,
    )


@dataclass(frozen=True)
class DiffResult:
    """A difference current - baseline with its 95% CI, p-value and which test produced it."""

    delta: float
    low: float
    high: float
    p_value: float
    test: str
    n: int

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def paired_accuracy(current: list[bool], baseline: list[bool]) -> DiffResult | None:
    """McNemar's exact test on items both runs scored; CI from the paired-proportion variance."""
    n = len(current)
    if n == 0 or n != len(baseline):
        return None
    b = sum(1 for c, o in zip(current, baseline, strict=True) if c and not o)  # newly right
    c = sum(1 for cur, o in zip(current, baseline, strict=True) if o and not cur)  # newly wrong
    delta = (b - c) / n
    discordant = b + c
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(b, discordant, 0.5).pvalue)
    var = max((b + c) - (b - c) ** 2 / n, 0.0) / n**2
    half = Z95 * math.sqrt(var)
    return DiffResult(delta, delta - half, delta + half, p_value, f"McNemar exact, {n} paired items", n)


def unpaired_difference(
    current: float, current_se: float, baseline: float, baseline_se: float, n: int, what: str
) -> DiffResult | None:
    """A z-test on two independent estimates with standard errors (two-proportion test for accuracies)."""
    se = math.sqrt(current_se**2 + baseline_se**2)
    delta = current - baseline
    if se <= 0 or not math.isfinite(se):
        return None
    z = delta / se
    p_value = float(2 * stats.norm.sf(abs(z)))
    return DiffResult(delta, delta - Z95 * se, delta + Z95 * se, p_value, what, n)


def proportion_se(p: float, n: int) -> float | None:
    if n <= 0 or not 0 <= p <= 1:
        return None
    return math.sqrt(max(p * (1 - p), 1e-12) / n)
