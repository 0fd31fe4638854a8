"""The gate's statistics: McNemar mid-p, the paired bootstrap and the latency bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from harness.stats import Sample, bootstrap_change, mcnemar_midp, paired_difference


def test_mcnemar_midp_matches_its_definition() -> None:
    # 10 discordant items all one way: exact two-sided p = 2 * 0.5**10, mid-p halves the observed term
    assert mcnemar_midp(10, 0) == pytest.approx(0.5**10)
    assert mcnemar_midp(0, 10) == pytest.approx(0.5**10)
    assert mcnemar_midp(0, 0) == 1.0
    assert mcnemar_midp(7, 7) == 1.0
    exact = stats.binomtest(3, 15, 0.5).pvalue
    assert mcnemar_midp(3, 12) == pytest.approx(exact - stats.binom.pmf(3, 15, 0.5))
    assert mcnemar_midp(3, 12) < exact  # mid-p is less conservative than the exact test


def test_paired_difference_of_identical_runs_is_exactly_zero() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0] * 10
    result = paired_difference(values, values, binary=True, level=0.95, iterations=500, seed=1)
    assert (result.diff, result.ci_low, result.ci_high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_difference_detects_a_real_drop_and_is_reproducible() -> None:
    base = [1.0] * 40 + [0.0] * 20
    run = [0.0] * 12 + [1.0] * 28 + [0.0] * 20  # 12 items right before, wrong now
    first = paired_difference(base, run, binary=True, level=0.95, iterations=2000, seed=3)
    again = paired_difference(base, run, binary=True, level=0.95, iterations=2000, seed=3)
    assert first == again
    assert first.diff == pytest.approx(-12 / 60)
    assert first.ci_high < 0 < first.p_value < 0.001
    assert (first.worse, first.better) == (12, 0)
    assert first.ci_low <= first.diff <= first.ci_high


def test_unpaired_scores_use_the_bootstrap_p_value() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.9, size=50)
    result = paired_difference(base, base - 0.1, binary=False, level=0.95, iterations=1000, seed=0)
    assert result.test == "paired bootstrap"
    assert result.diff == pytest.approx(-0.1)
    assert result.p_value < 0.01


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80), st.integers(0, 10))
def test_paired_interval_brackets_the_estimate(pairs: list[tuple[bool, bool]], seed: int) -> None:
    base = [float(a) for a, _ in pairs]
    run = [float(b) for _, b in pairs]
    result = paired_difference(base, run, binary=True, level=0.9, iterations=200, seed=seed)
    assert 0.0 <= result.p_value <= 1.0
    assert result.ci_low <= result.diff + 1e-12 and result.diff <= result.ci_high + 1e-12
    assert -1.0 <= result.ci_low <= result.ci_high <= 1.0


def _sample(values: np.ndarray, repetitions: int = 1) -> Sample:
    reps = np.arange(values.size) % repetitions
    return Sample.of(values.tolist(), [0] * values.size, reps.tolist())


def test_latency_bootstrap_sees_no_change_between_draws_of_one_distribution() -> None:
    rng = np.random.default_rng(5)
    base = _sample(rng.lognormal(np.log(0.05), 0.3, size=200))
    run = _sample(rng.lognormal(np.log(0.05), 0.3, size=200))
    result = bootstrap_change(base, run, "p95", level=0.95, iterations=2000, seed=0)
    assert result.ratio_low < 1 < result.ratio_high


def test_latency_bootstrap_measures_a_slowdown() -> None:
    rng = np.random.default_rng(6)
    base = _sample(rng.lognormal(np.log(0.05), 0.2, size=100), repetitions=4)
    run = _sample(1.5 * rng.lognormal(np.log(0.05), 0.2, size=100), repetitions=4)
    result = bootstrap_change(base, run, "mean", level=0.95, iterations=1000, seed=0)
    assert 1.3 < result.ratio_low < result.ratio < result.ratio_high < 1.7
    assert result.p_value < 0.01
    assert result.diff == pytest.approx(result.run_value - result.base_value)


def test_strata_keep_their_sizes_in_every_resample() -> None:
    # Two prompt lengths with very different latencies: a stratified p50 never jumps between them.
    values = [1.0] * 10 + [100.0] * 10
    sample = Sample.of(values, [0] * 10 + [1] * 10, [0] * 20)
    result = bootstrap_change(sample, sample, "mean", level=0.95, iterations=500, seed=0)
    assert result.ratio_low == result.ratio_high == 1.0


def test_the_written_out_normal_quantile_is_scipys() -> None:
    from scipy import stats

    from harness.stats import Z95

    assert stats.norm.ppf(0.975) == Z95
