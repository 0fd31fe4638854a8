"""Run perf scenarios against a loaded backend and report one record per request.

``grid`` is single-stream over every (prompt_tokens, output_tokens) pair, like llama-bench's
pp/tg: each point gets its warm-up requests (recorded with ``warmup=True``, excluded from
figures) and its measured requests, repeated ``repetitions`` times. Every request has its own
prompt, so no request is flattered by a prefix cached from the previous one.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from harness.backends.base import Backend, GenerationRequest
from harness.config.suite import PerfScenario
from harness.meters.latency import timed_generate
from harness.runner.load import Deadline

RequestRecord = dict[str, Any]
OnRequest = Callable[[RequestRecord], None]


def request_key(record: RequestRecord) -> tuple[str, str, int, int]:
    """Identity of a request inside a cell, for resuming a killed run."""
    return (str(record["scenario"]), str(record["point"]), int(record["repetition"]), int(record["index"]))


def grid_points(scenario: PerfScenario) -> list[tuple[int, int]]:
    return [(p, o) for p in scenario.prompt_tokens for o in scenario.output_tokens]


def count_requests(scenarios: Iterable[PerfScenario]) -> int:
    total = 0
    for s in scenarios:
        points = len(grid_points(s)) if s.kind == "grid" else len(s.concurrency) if s.kind == "concurrency" else 1
        total += points * s.repetitions * (s.requests + s.warmup)
    return total


def run_grid(
    backend: Backend,
    scenario: PerfScenario,
    *,
    seed: int,
    on_request: OnRequest,
    done: set[tuple[str, str, int, int]] | None = None,
) -> None:
    """Single-stream requests over the grid, bounded by count and ``max_duration_s``."""
    done = done or set()
    started = time.monotonic()
    for prompt_tokens, output_tokens in grid_points(scenario):
        point = f"pp{prompt_tokens}/tg{output_tokens}"
        for repetition in range(scenario.repetitions):
            for index in range(scenario.warmup + scenario.requests):
                key = (scenario.name, point, repetition, index)
                if key in done:
                    continue
                if time.monotonic() - started > scenario.max_duration_s:
                    return
                prompt_seed = zlib.crc32(
                    repr((seed, scenario.name, prompt_tokens, output_tokens, repetition, index)).encode()
                )
                prompt = backend.make_prompt(prompt_tokens, prompt_seed)
                # past request_timeout_s the stream is abandoned and the request recorded as an error
                bounded = Deadline(backend, time.perf_counter() + scenario.request_timeout_s)
                timing = timed_generate(
                    bounded,
                    GenerationRequest(prompt=prompt, max_tokens=output_tokens, ignore_eos=True, seed=seed),
                )
                row = timing.row()
                row.pop("itl_s", None)
                on_request(
                    {
                        **row,
                        "scenario": scenario.name,
                        "point": point,
                        "repetition": repetition,
                        "index": index,
                        "warmup": index < scenario.warmup,
                        "concurrency": 1,
                        "itl_s": timing.itl_s,
                        "scheduled_s": None,
                        "dispatch_delay_s": None,
                    }
                )


def run_scenario(
    backend: Backend,
    scenario: PerfScenario,
    *,
    seed: int,
    on_request: OnRequest,
    done: set[tuple[str, str, int, int]] | None = None,
) -> dict[str, Any] | None:
    """Dispatch on the scenario kind; load scenarios (concurrency, rate) need a server backend."""
    if scenario.kind == "grid":
        run_grid(backend, scenario, seed=seed, on_request=on_request, done=done)
        return None
    from harness.runner.load import run_load_scenario

    summary: dict[str, Any] = run_load_scenario(backend, scenario, seed=seed, on_request=on_request)
    return summary
