"""The closed-form intervals of harness.stats equal scipy.stats's, which the project no longer imports
at run time (it costs each process ~0.6 s): Wilson, Student t, the median's order-statistic
interval and McNemar's mid-p, over many sizes and random samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats import mcnemar_midp, median_interval, t_interval, wilson_interval


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 20, 37, 100, 1000])
def test_wilson_equals_binomtest(n: int) -> None:
    for successes in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        want = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
        assert wilson_interval(successes, n) == pytest.approx((want.low, want.high), abs=1e-15)


@pytest.mark.parametrize("df", [1, 2, 4, 9, 29, 199])
def test_t_interval_equals_scipy(df: int) -> None:
    want = stats.t.interval(0.95, df, loc=0.4, scale=0.07)
    assert t_interval(0.4, 0.07, df) == pytest.approx(want, rel=1e-12)


def test_median_interval_equals_quantile_test() -> None:
    rng = np.random.default_rng(7)
    for n in [*range(1, 60), 99, 100, 257, 1000]:
        data = rng.lognormal(size=n)
        want = stats.quantile_test(data, q=float(np.median(data)), p=0.5).confidence_interval(0.95)
        low, high = median_interval(data)
        for got, expected in ((low, float(want.low)), (high, float(want.high))):
            assert (math.isnan(got) and math.isnan(expected)) or got == expected, (n, low, high, want)


def test_mcnemar_midp_equals_the_binomial_formula() -> None:
    for worse, better in [(0, 0), (0, 1), (1, 0), (3, 9), (9, 3), (10, 10), (40, 61), (500, 560)]:
        n, k = worse + better, min(worse, better)
        expected = 1.0 if n == 0 else min(1.0, 2 * (stats.binom.cdf(k, n, 0.5) - 0.5 * stats.binom.pmf(k, n, 0.5)))
        assert mcnemar_midp(worse, better) == pytest.approx(expected, rel=1e-9, abs=1e-15)
