"""Load scenarios (concurrency sweep, constant and Poisson rate) against local servers.

The fault server paces its tokens, so throughput, scheduling and timeouts are checked against
known timings; the llama.cpp server checks a concurrency of 8 on the real nano model.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers.fault_server import FaultState, fault_server
from servers.llama_server import llama_server  # noqa: F401  (fixture)

from harness.backends.base import Backend
from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.config.models import ModelSpec
from harness.config.suite import PerfScenario
from harness.runner.load import run_load_scenario

RECORD_KEYS = {
    "scenario", "point", "repetition", "index", "warmup", "concurrency", "prompt_tokens", "output_tokens",
    "ttft_s", "e2e_s", "tpot_s", "decode_tps", "prefill_tps", "token_count_source", "error", "scheduled_s",
    "dispatch_delay_s", "visible_tokens", "reasoning_tokens", "cached_tokens", "truncated_reasoning", "first_byte_s",
    "first_reasoning_s",
}  # fmt: skip


@pytest.fixture
def paced() -> Iterator[tuple[str, FaultState]]:
    with fault_server(tokens=4, delay_s=0.05) as running:  # ~0.15 s a request
        yield running


def api(url: str, model: str = "ok", **params: Any) -> Backend:
    spec = ModelSpec(name="api", tier="full", backend="openai", params={"model": model, "base_url": url, **params})
    backend = create_backend(spec)
    backend.load()
    return backend


def run(backend: Backend, **fields: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    scenario = PerfScenario(**{"name": "load", "prompt_tokens": [8], "output_tokens": [4], "warmup": 0, **fields})
    return run_load_scenario(backend, scenario, seed=7, on_request=records.append), records


def test_concurrency_sweep_scales_on_a_concurrent_server(paced: tuple[str, FaultState]) -> None:
    result, records = run(api(paced[0]), kind="concurrency", concurrency=[1, 4], requests=8, warmup=1)
    assert result["skipped"] is None
    one, four = result["points"]
    assert (one["point"], four["point"]) == ("c=1", "c=4")
    assert one["requests_ok"] == four["requests_ok"] == 8 and one["error_rate"] == 0.0
    assert four["throughput_rps"] > 2 * one["throughput_rps"]
    assert paced[1].max_in_flight == 4
    assert one["warmup_requests"] == 1 and sum(r["warmup"] for r in records) == 2
    assert all(set(r) == RECORD_KEYS for r in records)
    measured = [r for r in records if not r["warmup"] and r["point"] == "c=4"]
    assert {r["concurrency"] for r in measured} == {4}
    assert all(r["token_count_source"] == "usage" and r["output_tokens"] == 4 for r in measured)
    assert all(0 <= r["dispatch_delay_s"] < 0.5 for r in measured)


def test_max_concurrency_caps_requests_in_flight(paced: tuple[str, FaultState]) -> None:
    url, state = paced
    result, _ = run(api(url, max_concurrency=2), kind="concurrency", concurrency=[6], requests=6)
    assert result["points"][0]["requests_ok"] == 6
    assert state.max_in_flight == 2


def test_constant_rate_is_kept_and_reported(paced: tuple[str, FaultState]) -> None:
    result, records = run(api(paced[0]), kind="rate", rate=20.0, requests=10)
    (point,) = result["points"]
    assert point["point"] == "rate=20" and point["target_rate_rps"] == 20.0
    scheduled = sorted(r["scheduled_s"] for r in records)
    gaps = [b - a for a, b in itertools.pairwise(scheduled)]
    assert gaps == pytest.approx([0.05] * 9, abs=1e-6)
    assert point["achieved_rate_rps"] == pytest.approx(20.0, rel=0.3)
    assert point["requests_ok"] == 10 and point["dispatch_delay_p95_s"] < 0.05
    assert max(r["concurrency"] for r in records) > 1  # open loop: requests overlap


def test_poisson_arrivals_are_seeded(paced: tuple[str, FaultState]) -> None:
    backend = api(paced[0])
    schedules = []
    for _ in range(2):
        _, records = run(backend, kind="rate", rate=50.0, arrival="poisson", requests=8)
        times = sorted(r["scheduled_s"] for r in records)
        schedules.append([round(b - a, 9) for a, b in itertools.pairwise(times)])
    assert schedules[0] == schedules[1]  # same seed, same arrival gaps
    assert len(set(schedules[0])) > 1  # not constant spacing


def test_goodput_counts_only_requests_within_the_slo(paced: tuple[str, FaultState]) -> None:
    backend = api(paced[0])
    result, _ = run(backend, kind="concurrency", concurrency=[2], requests=6, slo_e2e_s=0.01)
    (point,) = result["points"]
    assert point["goodput_rps"] == 0.0 and point["slo_attainment"] == 0.0 and point["throughput_rps"] > 0
    result, _ = run(backend, kind="concurrency", concurrency=[2], requests=6, slo_e2e_s=30.0)
    assert result["points"][0]["goodput_rps"] == pytest.approx(result["points"][0]["throughput_rps"])


def test_failures_count_in_the_error_rate_not_in_latency() -> None:
    with fault_server(tokens=4) as (url, _):
        result, records = run(api(url, model="flaky"), kind="concurrency", concurrency=[1], requests=9)
    (point,) = result["points"]
    assert (point["requests_ok"], point["requests_failed"]) == (6, 3)
    assert point["error_rate"] == pytest.approx(1 / 3)
    assert "HTTP 400" in point["top_errors"]
    failed = [r for r in records if r["error"]]
    assert all(r["ttft_s"] is None and r["e2e_s"] is None for r in failed)


def test_a_hanging_endpoint_is_bounded_by_the_request_timeout() -> None:
    with fault_server(tokens=4) as (url, _):
        backend = api(url, model="hang", stall_timeout_s=30)
        start = time.monotonic()
        result, records = run(backend, kind="concurrency", concurrency=[2], requests=2, request_timeout_s=1.0)
        elapsed = time.monotonic() - start
    assert elapsed < 8
    (point,) = result["points"]
    assert point["error_rate"] == 1.0 and all("TimeoutError" in r["error"] for r in records)


def test_max_duration_bounds_the_scenario(paced: tuple[str, FaultState]) -> None:
    start = time.monotonic()
    result, _ = run(api(paced[0]), kind="concurrency", concurrency=[1], requests=1000, max_duration_s=1.0)
    assert time.monotonic() - start < 3
    (point,) = result["points"]
    assert point["stopped_by"] == "max_duration_s" and 0 < point["requests_sent"] < 1000


def test_in_process_backends_get_a_reason_not_a_fake_sweep() -> None:
    spec = default_catalog().get("nano")
    assert spec is not None
    result, records = run(create_backend(spec), kind="concurrency", concurrency=[1, 8], requests=4)
    assert result["points"] == [] and records == []
    assert "one request at a time" in result["skipped"]


@pytest.mark.slow
@pytest.mark.server
def test_concurrency_of_8_on_the_real_nano_server(llama_server: str) -> None:  # noqa: F811
    backend = api(llama_server, model="nano", api="completions", timeout_s=120)
    result, records = run(backend, kind="concurrency", concurrency=[8], requests=8)
    (point,) = result["points"]
    assert point["requests_ok"] == 8, point["top_errors"]
    assert all(r["output_tokens"] == 4 and r["ttft_s"] is not None for r in records)
    assert point["output_tps"] > 0 and point["token_count_source"] == "chunks"


@pytest.mark.parametrize(
    ("fields", "points"),
    [  # every (prompt, output) shape, at every concurrency level
        ({"kind": "concurrency", "prompt_tokens": [16, 32], "output_tokens": [8], "concurrency": [1, 2, 4]}, 6),
        ({"kind": "rate", "prompt_tokens": [16], "output_tokens": [8, 16], "rate": 2.0}, 2),
        ({"kind": "grid", "prompt_tokens": [16, 32], "output_tokens": [8, 16]}, 4),
    ],
)
def test_planned_request_count_covers_every_point_the_scenario_runs(fields: dict[str, Any], points: int) -> None:
    """The progress total counts each shape at each level: a load scenario with two prompt sizes runs both."""
    from harness.runner.load import scenario_points
    from harness.runner.scenarios import count_requests

    scenario = PerfScenario(name="s", requests=3, warmup=1, repetitions=2, **fields)
    assert count_requests([scenario]) == points * 2 * (3 + 1)
    if scenario.kind != "grid":
        assert len(scenario_points(scenario)) == points  # and the load driver runs exactly those points
