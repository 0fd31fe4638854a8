"""Run perf scenarios against a loaded backend and report one record per request.

``grid`` is single-stream over every (prompt_tokens, output_tokens) pair, like llama-bench's pp/tg.
Every request has its own prompt, so none is flattered by a prefix cached from the previous one
(unless the scenario asks for a shared ``prefix_tokens``: prefix-cache reuse is then what it measures).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from harness.backends.base import Backend, GenerationRequest
from harness.config.suite import PerfScenario
from harness.meters.latency import timed_generate
from harness.runner.load import Deadline, OnRequest, point_count, run_load_scenario, shapes, shared_prefix
from harness.runner.precision import median_ci_rel, stop_reason


def request_key(record: dict[str, Any]) -> tuple[str, str, int, int]:
    """Identity of a request inside a cell, for resuming a killed run."""
    return (str(record["scenario"]), str(record["point"]), int(record["repetition"]), int(record["index"]))


def count_requests(scenarios: Iterable[PerfScenario]) -> int:
    """Requests the scenarios may send at most: each point (what its driver may run) times its repetitions."""
    return sum(
        (len(shapes(s)) if s.kind == "grid" else point_count(s)) * s.repetitions * (_planned(s) + s.warmup)
        for s in scenarios
    )


def _planned(scenario: PerfScenario) -> int:
    """Measured requests a point may take: its count, or its cap under a precision target."""
    return scenario.precision_bounds().max_requests if scenario.target_ci is not None else scenario.requests


def run_grid(
    backend: Backend,
    scenario: PerfScenario,
    *,
    seed: int,
    on_request: OnRequest,
    done: set[tuple[str, str, int, int]] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Single-stream requests over the grid, bounded by count (or a precision target) and time; the last
    measured request of each point and repetition carries why it stopped (``stop_reason``) and the
    ``median_ci_rel`` of its E2E latencies then."""
    done = done or set()
    started = clock()
    prefix = shared_prefix(backend, scenario, seed)
    for prompt_tokens, output_tokens in shapes(scenario):
        point = f"pp{prompt_tokens}/tg{output_tokens}"
        for repetition in range(scenario.repetitions):
            e2e: list[float] = []
            attempted = 0
            first_measured: float | None = None
            for index in range(scenario.warmup + _planned(scenario)):
                if (scenario.name, point, repetition, index) in done:
                    continue
                if clock() - started > scenario.max_duration_s:
                    return
                warmup = index < scenario.warmup
                if not warmup and first_measured is None:
                    first_measured = clock()
                prompt_seed = zlib.crc32(
                    repr((seed, scenario.name, prompt_tokens, output_tokens, repetition, index)).encode()
                )
                prompt = prefix + backend.make_prompt(prompt_tokens, prompt_seed)
                # past request_timeout_s the stream is abandoned and the request recorded as an error
                bounded = Deadline(backend, time.perf_counter() + scenario.request_timeout_s)
                timing = timed_generate(
                    bounded,
                    GenerationRequest(prompt=prompt, max_tokens=output_tokens, ignore_eos=True, seed=seed),
                    clock=clock,
                )
                row = timing.row()
                row.pop("itl_s", None)
                reason: str | None = None
                if not warmup:
                    attempted += 1
                    if row.get("e2e_s") is not None and not row.get("error"):
                        e2e.append(float(row["e2e_s"]))
                    now = clock()
                    assert first_measured is not None
                    reason = stop_reason(scenario, e2e, attempted, now - first_measured, now - started)
                ci_rel = median_ci_rel(e2e) if reason is not None else math.inf  # only the last request has one
                on_request(
                    {
                        **row,
                        "scenario": scenario.name,
                        "point": point,
                        "repetition": repetition,
                        "index": index,
                        "warmup": warmup,
                        "concurrency": 1,
                        "itl_s": timing.itl_s,
                        "scheduled_s": None,
                        "dispatch_delay_s": None,
                        "stop_reason": reason,
                        "median_ci_rel": ci_rel if math.isfinite(ci_rel) else None,
                    }
                )
                if reason == "max_duration":
                    return
                if reason is not None:
                    break


def run_scenario(
    backend: Backend,
    scenario: PerfScenario,
    *,
    seed: int,
    on_request: OnRequest,
    done: set[tuple[str, str, int, int]] | None = None,
) -> dict[str, Any] | None:
    """Dispatch on the scenario kind; load scenarios (concurrency, rate, sweep) need a server backend."""
    if scenario.kind == "grid":
        run_grid(backend, scenario, seed=seed, on_request=on_request, done=done)
        # a precision-target scenario is resumed whole (its stopping rule needs every request):
        # this record marks it finished; it adds no row to the load table
        return {"scenario": scenario.name, "kind": "grid"} if scenario.target_ci is not None else None
    return run_load_scenario(backend, scenario, seed=seed, on_request=on_request)
