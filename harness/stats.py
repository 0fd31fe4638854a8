"""The one statistics engine: ``compare``, the report and the gate all test changes here.

- Accuracy: the same items in both runs, so the comparison is paired. For 1/0 outcomes the
  p-value is McNemar's exact test with the mid-p correction (only discordant items carry
  information); the interval of the change is a seeded paired bootstrap over items.
- Latency and throughput: requests are not paired, so each run is resampled on its own,
  stratified by (scenario, point) so every bootstrap sample keeps the run's mix of prompt
  lengths; with three or more repetitions of a point, repetitions are resampled first and
  requests inside them second, which widens the interval by the run-to-run spread.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Statistic = Callable[[FloatArray], FloatArray]  # rows of resamples -> one value per row

PERCENTILES = (50, 90, 95, 99)  # of every latency summary
Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975), written out so importing this needs no scipy


def summarize(values: Iterable[float | None]) -> dict[str, float]:
    """count, mean, std (sample, ddof=1), p50, p90, p95, p99 (linear interpolation) of defined values."""
    data = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return {"count": 0.0, "mean": math.nan, "std": math.nan, **{f"p{p}": math.nan for p in PERCENTILES}}
    return {
        "count": float(data.size),
        "mean": float(data.mean()),
        "std": float(data.std(ddof=1)) if data.size > 1 else 0.0,
        **{f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(data, PERCENTILES), strict=True)},
    }


def standard_error(stderr: float | None, ci_low: float | None, ci_high: float | None) -> float | None:
    """A score's standard error, never below what its 95% interval implies: an all-right task has sd 0,
    but its Wilson interval is not a point (0/20 is 0-16%), and a combined interval must not claim ±0."""
    implied = (ci_high - ci_low) / (2 * Z95) if ci_low is not None and ci_high is not None else None
    if stderr is None:
        return implied
    return max(stderr, implied or 0.0)


def score_standard_error(
    stderr: float | None, ci_low: float | None, ci_high: float | None, value: float | None, n: float | None
) -> float | None:
    """A task score's standard error: :func:`standard_error`, else binomial from a proportion and its n."""
    se = standard_error(stderr, ci_low, ci_high)
    if se is None and value is not None and n and 0 <= value <= 1:
        return math.sqrt(max(value * (1 - value), 1e-12) / n)
    return se


def mean_of_scores(
    values: Sequence[float], stderrs: Sequence[float | None]
) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of several tasks' scores: their unweighted mean, with a 95% interval only when every
    task has a standard error; a mean of proportions keeps its interval inside [0, 1]."""
    mean = float(np.mean(values))
    if any(se is None for se in stderrs):
        return mean, None, None
    half = Z95 * math.sqrt(sum(se**2 for se in stderrs if se is not None)) / len(values)
    return mean, max(mean - half, 0.0), min(mean + half, 1.0) if mean <= 1 else mean + half


def mcnemar_midp(worse: int, better: int) -> float:
    """Two-sided mid-p McNemar test from the discordant counts (base right/run wrong, vice versa)."""
    n = worse + better
    if n == 0:
        return 1.0
    k = min(worse, better)
    # twice (P(X < k) + P(X = k) / 2) for X ~ Binomial(n, 1/2), in exact integers
    p = (2 * sum(math.comb(n, i) for i in range(k)) + math.comb(n, k)) / 2**n
    return min(1.0, max(0.0, float(p)))


# Closed-form intervals from scipy.special: scipy.stats would give the same figures (tests/test_stats_parity.py)
# but costs every process that imports it ~0.6 s, and every cell's worker and most commands need one.


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (scipy.stats.binomtest's ``method="wilson"``)."""
    share, z2 = successes / n, Z95**2
    denominator = 2 * (n + z2)
    centre = (2 * successes + z2) / denominator
    half = Z95 * math.sqrt(4 * n * share * (1 - share) + z2) / denominator
    return max(centre - half, 0.0), min(centre + half, 1.0)


def t_interval(mean: float, stderr: float, df: int) -> tuple[float, float]:
    """The 95% Student t interval of a mean (scipy.stats.t.interval)."""
    from scipy.special import stdtrit

    half = float(stdtrit(df, 0.975)) * stderr
    return mean - half, mean + half


def median_interval(values: Sequence[float] | FloatArray, level: float = 0.95) -> tuple[float, float]:
    """The distribution-free interval of a median: the order statistics whose ranks a Binomial(n, 1/2)
    keeps inside ``level`` (scipy.stats.quantile_test's two-sided interval); nan where n is too small.

    The binomial's tails are summed in exact integers: every perf cell's worker asks for this, and
    scipy.special alone costs a worker about half a second to import."""
    data = np.sort(np.asarray(values, dtype=float))
    n, tail = int(data.size), (1.0 - level) / 2.0
    weights = [1]
    for k in range(n):  # C(n, k+1) from C(n, k): one small product per term, not a fresh comb
        weights.append(weights[-1] * (n - k) // (k + 1))
    below = list(itertools.accumulate(weights))  # 2**n * P(X <= k); by symmetry P(X > k) = P(X <= n - k - 1)
    total = 2**n  # int / int divides exactly rounded at any n, where a float 2**n would overflow
    low_index = next(k for k in range(n + 1) if below[k] / total >= tail) - 1  # the binomial's tail quantile, less one
    high_index = next((k for k in range(n) if below[n - k - 1] / total <= tail), n)  # its upper one
    low = float(data[low_index]) if low_index >= 0 else math.nan
    high = float(data[high_index]) if high_index < n else math.nan
    return low, high


def resample_index(n: int, iterations: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """(iterations, n) positions drawn with replacement: one bootstrap resample of n items per row."""
    return rng.integers(0, n, size=(iterations, n))


def percentile_interval(values: FloatArray, level: float) -> tuple[float, float]:
    """The central ``level`` share of bootstrap replicates (the percentile interval)."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _finite_interval(values: FloatArray, level: float) -> tuple[float, float]:
    """:func:`percentile_interval` of the finite replicates (a ratio over a zero is not one); nan without any."""
    finite = values[np.isfinite(values)]
    return percentile_interval(finite, level) if finite.size else (math.nan, math.nan)


def _two_sided_p(replicates: FloatArray, null: float) -> float:
    """Bootstrap p-value: twice the smaller share of replicates on either side of ``null``."""
    if replicates.size == 0:
        return 1.0
    return min(1.0, 2.0 * min(float(np.mean(replicates <= null)), float(np.mean(replicates >= null))))


@dataclass(frozen=True)
class PairedResult:
    """Change of a per-item mean (run − baseline) on the same items."""

    n: int
    base_mean: float
    run_mean: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    worse: int  # items right in the baseline, wrong in the run (1/0 outcomes)
    better: int  # items wrong in the baseline, right in the run
    test: str


def paired_difference(
    base: Sequence[float], run: Sequence[float], *, binary: bool, level: float, iterations: int, seed: int
) -> PairedResult:
    """Paired comparison of two outcome vectors aligned item by item."""
    b = np.asarray(base, dtype=float)
    r = np.asarray(run, dtype=float)
    if b.shape != r.shape or b.size == 0:
        raise ValueError("paired outcomes need two non-empty vectors of the same length")
    deltas = r - b
    replicates = deltas[resample_index(deltas.size, iterations, np.random.default_rng(seed))].mean(axis=1)
    low, high = percentile_interval(replicates, level)
    diff = float(deltas.mean())
    worse = int(np.sum((b > 0.5) & (r < 0.5))) if binary else 0
    better = int(np.sum((b < 0.5) & (r > 0.5))) if binary else 0
    if binary:
        p_value, test = mcnemar_midp(worse, better), "McNemar (mid-p)"
    else:
        p_value, test = _two_sided_p(replicates, 0.0), "paired bootstrap"
    if np.all(deltas == 0):
        low, high, p_value = 0.0, 0.0, 1.0
    return PairedResult(int(b.size), float(b.mean()), float(r.mean()), diff, low, high, p_value, worse, better, test)


@dataclass(frozen=True)
class Sample:
    """Measured values of one run with the stratum and repetition of each."""

    values: FloatArray
    strata: NDArray[np.int64]
    repetitions: NDArray[np.int64]

    @classmethod
    def of(cls, values: Sequence[float], strata: Sequence[int], repetitions: Sequence[int]) -> Sample:
        return cls(
            np.asarray(values, dtype=float), np.asarray(strata, dtype=np.int64), np.asarray(repetitions, dtype=np.int64)
        )

    @property
    def size(self) -> int:
        return int(self.values.size)


def statistic(name: str) -> Statistic:
    """mean or pNN along rows."""
    if name == "mean":
        return lambda rows: np.asarray(rows.mean(axis=1), dtype=float)
    if name.startswith("p") and name[1:].isdigit():
        q = float(name[1:])
        return lambda rows: np.asarray(np.percentile(rows, q, axis=1), dtype=float)
    raise ValueError(f"unknown statistic {name}")


def _point(stat: Statistic, values: FloatArray) -> float:
    """The statistic of one whole sample (a single row)."""
    return float(stat(values[np.newaxis, :])[0])


def bootstrap_replicates(sample: Sample, stat: Statistic, iterations: int, rng: np.random.Generator) -> FloatArray:
    """``iterations`` bootstrap values of ``stat``, stratified, two-stage where repetitions allow."""
    parts: list[NDArray[np.int64]] = []
    positions = np.arange(sample.size)
    for stratum in np.unique(sample.strata):
        members = positions[sample.strata == stratum]
        reps = np.unique(sample.repetitions[members])
        if reps.size >= 3:
            groups = [members[sample.repetitions[members] == rep] for rep in reps]
            chosen = resample_index(reps.size, iterations, rng)
            rows = np.empty((iterations, members.size), dtype=np.int64)
            for i in range(iterations):
                picked = np.concatenate([groups[g] for g in chosen[i]])
                rows[i] = rng.choice(picked, size=members.size, replace=True)
            parts.append(rows)
        else:
            parts.append(members[resample_index(members.size, iterations, rng)])
    index = np.concatenate(parts, axis=1)
    return stat(sample.values[index])


@dataclass(frozen=True)
class RatioResult:
    """Change of a statistic between two unpaired samples: ratio run/base and difference run − base."""

    base_value: float
    run_value: float
    ratio: float
    ratio_low: float
    ratio_high: float
    diff: float
    diff_low: float
    diff_high: float
    p_value: float


def bootstrap_change(
    base: Sample, run: Sample, stat_name: str, *, level: float, iterations: int, seed: int
) -> RatioResult:
    """Bootstrap the ratio and the difference of ``stat_name`` between two runs."""
    if base.size == 0 or run.size == 0:
        raise ValueError("both samples need at least one value")
    stat = statistic(stat_name)
    rng = np.random.default_rng(seed)
    base_reps = bootstrap_replicates(base, stat, iterations, rng)
    run_reps = bootstrap_replicates(run, stat, iterations, rng)
    base_value, run_value = _point(stat, base.values), _point(stat, run.values)
    diffs = run_reps - base_reps
    diff_low, diff_high = percentile_interval(diffs, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = run_reps / base_reps
        ratio = run_value / base_value if base_value != 0 else math.inf
    ratio_low, ratio_high = _finite_interval(ratios, level)
    return RatioResult(
        base_value,
        run_value,
        ratio,
        ratio_low,
        ratio_high,
        run_value - base_value,
        diff_low,
        diff_high,
        _two_sided_p(diffs, 0.0),
    )


def statistic_interval(
    values: Sequence[float] | FloatArray, stat_name: str, *, level: float = 0.95, iterations: int = 500, seed: int = 0
) -> tuple[float, float] | None:
    """Bootstrap interval of ``stat_name`` (mean or pNN) of one sample; None with fewer than 5 values."""
    data = np.asarray(values, dtype=float)
    if data.size < 5:
        return None
    sample = Sample(data, np.zeros(data.size, dtype=np.int64), np.zeros(data.size, dtype=np.int64))
    replicates = bootstrap_replicates(sample, statistic(stat_name), iterations, np.random.default_rng(seed))
    return percentile_interval(replicates, level)


def direction(
    low: float, high: float, p_value: float | None, *, neutral: float, significance: float, worse_if_above: bool
) -> int:
    """+1 significantly better, -1 significantly worse, 0 neither: the test says so and the whole
    interval lies on one side of ``neutral`` (0 for a difference, 1 for a ratio)."""
    if p_value is None or p_value >= significance:
        return 0
    if low > neutral:
        return -1 if worse_if_above else 1
    if high < neutral:
        return 1 if worse_if_above else -1
    return 0


def paired_blocks_change(
    base_blocks: Sequence[Sample],
    run_blocks: Sequence[Sample],
    stat_name: str,
    *,
    level: float,
    iterations: int,
    seed: int,
) -> RatioResult:
    """The change of ``stat_name`` from blocks run back to back in pairs (``tierbench ab``): drift between
    pairs (clock, heat, a neighbour) hits both sides alike and cancels in each pair's ratio.

    The ratio is the pairs' geometric mean; its interval resamples pairs and each block's requests, so it
    carries both spreads. The difference is the pooled statistic's, the ratio's interval carried onto it."""
    if not base_blocks or len(base_blocks) != len(run_blocks):
        raise ValueError("need the same number of baseline and run blocks, at least one")
    if any(b.size == 0 for b in (*base_blocks, *run_blocks)):
        raise ValueError("every block needs at least one value")
    stat = statistic(stat_name)
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratios = np.array(
            [
                np.log(_point(stat, r.values) / _point(stat, b.values))
                for b, r in zip(base_blocks, run_blocks, strict=True)
            ]
        )
        replicate_logs = np.stack(
            [
                np.log(bootstrap_replicates(r, stat, iterations, rng) / bootstrap_replicates(b, stat, iterations, rng))
                for b, r in zip(base_blocks, run_blocks, strict=True)
            ]
        )  # pairs x iterations
    chosen = resample_index(len(base_blocks), iterations, rng)
    resampled = replicate_logs[chosen, np.arange(iterations)[:, np.newaxis]].mean(axis=1)
    ratio = float(np.exp(log_ratios.mean())) if np.all(np.isfinite(log_ratios)) else math.inf
    ratio_low, ratio_high = (float(np.exp(v)) for v in _finite_interval(resampled, level))
    base_value = _point(stat, np.concatenate([b.values for b in base_blocks]))
    run_value = _point(stat, np.concatenate([r.values for r in run_blocks]))
    return RatioResult(
        base_value,
        run_value,
        ratio,
        ratio_low,
        ratio_high,
        run_value - base_value,
        base_value * (ratio_low - 1),
        base_value * (ratio_high - 1),
        _two_sided_p(resampled[np.isfinite(resampled)], 0.0),
    )
