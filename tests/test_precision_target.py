"""A latency point sampled to a precision target: stops early when steady, runs to its cap when
noisy, and the interval it records is the one it claims (a scripted clock, so exactly)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import binom

from harness.backends.base import Chunk, GenerationRequest, StreamUsage
from harness.config.suite import PerfScenario
from harness.runner.scenarios import run_grid


@dataclass
class ScriptedLatencyBackend:
    """Each request takes the next scripted E2E on a fake clock: first token at 10%, then 3 more."""

    latencies: Iterator[float]
    now: float = 1000.0
    calls: int = 0
    name: str = "scripted"
    seen: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        return f"prompt {seed}"

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        self.calls += 1
        e2e = next(self.latencies)
        start = self.now
        usage.prompt_tokens = 8
        for fraction in (0.1, 0.4, 0.7, 1.0):
            self.now = start + e2e * fraction
            yield Chunk("x", 1)


def _run(latencies: Iterator[float], **precision: Any) -> list[dict[str, Any]]:
    scenario = PerfScenario.model_validate(
        {"name": "p", "prompt_tokens": [8], "output_tokens": [4], "warmup": 1, "max_duration_s": 1e9, **precision}
    )
    backend = ScriptedLatencyBackend(latencies)
    rows: list[dict[str, Any]] = []
    run_grid(backend, scenario, seed=1, on_request=rows.append, clock=backend.clock)  # type: ignore[arg-type]
    return rows


def _steady(base: float) -> Iterator[float]:
    i = 0
    while True:
        yield base * (1 + 0.002 * math.sin(i))
        i += 1


def _noisy(seed: int) -> Iterator[float]:
    rng = np.random.default_rng(seed)
    while True:
        yield float(rng.lognormal(0.0, 0.8))


def _median_ci_by_order_statistics(values: list[float]) -> tuple[float, float]:
    """The textbook distribution-free 95% interval of the median, written out independently."""
    data = sorted(values)
    n = len(data)
    lower = int(binom.ppf(0.025, n, 0.5))  # ranks whose binomial coverage is at least 95%
    while binom.cdf(n - lower, n, 0.5) - binom.cdf(lower - 1, n, 0.5) < 0.95:
        lower -= 1
    return data[lower - 1], data[n - lower]


def test_a_steady_point_stops_once_the_target_and_both_minimums_are_met() -> None:
    rows = _run(_steady(1.0), target_ci=0.02, max_requests=60)
    measured = [r for r in rows if not r["warmup"]]
    assert [r["stop_reason"] for r in measured[:-1]] == [None] * (len(measured) - 1)
    last = measured[-1]
    # 1 s per request: the 10-request and the 10-second minimums (LLM-Perf) are met together
    assert last["stop_reason"] == "target_met" and len(measured) == 10
    assert last["median_ci_rel"] <= 0.02

    # shorter requests: the 10 s minimum holds it past 10 requests
    rows = _run(_steady(0.25), target_ci=0.02, max_requests=60)
    measured = [r for r in rows if not r["warmup"]]
    assert measured[-1]["stop_reason"] == "target_met" and len(measured) == 40


def test_a_noisy_point_runs_to_max_requests_and_says_so() -> None:
    rows = _run(_noisy(3), target_ci=0.02, min_duration_s=0, max_requests=60)
    measured = [r for r in rows if not r["warmup"]]
    assert len(measured) == 60 and len(rows) == 61
    assert measured[-1]["stop_reason"] == "max_requests"
    assert measured[-1]["median_ci_rel"] > 0.02


@pytest.mark.parametrize("seed", [1, 2])
def test_the_recorded_interval_meets_the_target_when_it_says_so(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # mildly noisy: the interval narrows as requests accumulate and crosses the target mid-way
    rows = _run((float(v) for v in 1 + 0.03 * rng.standard_normal(10_000)), target_ci=0.02, min_duration_s=0)
    measured = [r for r in rows if not r["warmup"]]
    assert measured[-1]["stop_reason"] == "target_met" and 10 < len(measured) < 500
    e2e = [r["e2e_s"] for r in measured]
    low, high = _median_ci_by_order_statistics(e2e)
    median = float(np.median(e2e))
    assert max(median - low, high - median) / median <= 0.02
    assert measured[-1]["median_ci_rel"] == pytest.approx(max(median - low, high - median) / median)


def test_a_fixed_count_point_records_why_it_stopped() -> None:
    rows = _run(_noisy(1), requests=3)
    assert [r["stop_reason"] for r in rows] == [None, None, None, "requests"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_requests": 5}, "only apply with target_ci"),
        ({"target_ci": 0.02, "min_requests": 50, "max_requests": 10}, "above max_requests"),
        ({"target_ci": 0.02, "kind": "concurrency"}, "grid"),
    ],
)
def test_precision_fields_are_checked(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PerfScenario.model_validate({"name": "p", **fields})
