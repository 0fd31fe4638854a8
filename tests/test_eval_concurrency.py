"""Concurrent evaluation against a local OpenAI-compatible endpoint with a fixed time to first token.

A concurrent run must give exactly the samples, scores and resume cache of a sequential run, finish
within 2x of the ideal time, and wait out rate limits (HTTP 429 with Retry-After) without losing or
mis-scoring an item.
"""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers.fault_server import FaultState, fault_server

from harness.backends.base import Capabilities, GenerationRequest, StreamUsage
from harness.backends.openai.policy import is_throttle
from harness.backends.openai_compat import OpenAICompatBackend
from harness.backends.registry import create_backend
from harness.config.models import ModelSpec
from harness.evaluation import MemorySink, PacingStats, run_tasks
from harness.evaluation.pacing import DEFAULT_EVAL_CONCURRENCY, AdaptiveLimit, eval_concurrency, paced
from harness.results.store import RunStore

TTFT_S = 0.1
ITEMS = 24  # per task
TASKS = ["arithmetic", "word_problems"]  # evaluated in one lm-eval call when concurrent: one pool for both


@pytest.fixture
def server() -> Iterator[tuple[str, FaultState]]:
    with fault_server(ttft_s=TTFT_S, throttle_every=3) as running:
        yield running


def make(url: str, model: str = "answer", **params: Any) -> OpenAICompatBackend:
    spec = ModelSpec(
        name="api",
        tier="full",
        backend="openai",
        params={"model": model, "base_url": url, "api": "completions", **params},
        prices={"input_per_mtok": 1.0, "output_per_mtok": 10.0},
    )
    backend = create_backend(spec)
    assert isinstance(backend, OpenAICompatBackend)
    backend.load()
    return backend


def evaluate(
    backend: OpenAICompatBackend, concurrency: int, limit: int = ITEMS, tasks: list[str] = TASKS
) -> tuple[MemorySink, PacingStats, float]:
    sink = MemorySink()
    started = time.perf_counter()
    stats = run_tasks(backend, tasks, limit=limit, seed=0, data_dir=None, sink=sink, concurrency=concurrency)
    return sink, stats, time.perf_counter() - started


def without_latency(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "latency_s"} for s in samples]


def test_concurrent_run_matches_sequential_item_by_item_within_2x_of_ideal(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, max_concurrency=32)
    sequential, seq_stats, seq_wall = evaluate(backend, 1)
    assert seq_stats.peak_in_flight == 1 and state.max_in_flight == 1
    state.ttft_s = 0.0
    _, _, overhead = evaluate(backend, 32)  # the harness's own time for these items (lm-eval, templating)
    state.ttft_s = TTFT_S
    state.max_in_flight = 0
    concurrent, stats, wall = evaluate(backend, 32)

    order = [(s["task"], s["doc_id"]) for s in concurrent.samples]
    assert order == [(task, i) for task in TASKS for i in range(ITEMS)]  # samples.jsonl order: task by task
    assert without_latency(concurrent.samples) == without_latency(sequential.samples)  # answers, scores, confidence
    assert concurrent.scores == sequential.scores
    assert concurrent.responses == sequential.responses  # the resume cache: same keys, same values
    assert any(s["correct"] for s in concurrent.samples) and not all(s["correct"] for s in concurrent.samples)
    assert all(s["confidence"]["gen_logprob_mean"] is not None for s in concurrent.samples)
    # each item's latency is its own request's, not a share of the batch's wall time
    assert all(TTFT_S <= s["latency_s"] < 1.0 for s in concurrent.samples)
    assert stats.ceiling == 32 and 1 < stats.peak_in_flight <= 32 and 1 < state.max_in_flight <= 32
    assert seq_wall >= len(TASKS) * ITEMS * TTFT_S
    ideal = len(TASKS) * ITEMS * TTFT_S / 32 + overhead
    assert wall <= 2 * ideal, f"concurrent wall {wall:.2f}s vs ideal {ideal:.2f}s (harness overhead {overhead:.2f}s)"


BROKEN = """task: broken
data: items.jsonl
output_type: generate_until
doc_to_text: "Q: {{ q }} {{ 1 / (q | length - 3) }}"
doc_to_target: "{{a}}"
metric_list:
  - metric: exact_match
"""


def test_a_broken_task_in_the_pool_fails_alone(server: tuple[str, FaultState], tmp_path: Path) -> None:
    url, _ = server
    items = '{"q": "10+1", "a": "11"}\n{"q": "1+1", "a": "2"}\n'  # 1 / 0 at the second item: at evaluation
    (tmp_path / "items.jsonl").write_text(items)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    tasks = ["arithmetic", str(tmp_path / "broken.yaml"), "word_problems"]
    pooled, _, _ = evaluate(make(url, max_concurrency=8), 8, limit=6, tasks=tasks)
    alone, _, _ = evaluate(make(url), 1, limit=6, tasks=tasks)
    failed = [r for r in pooled.scores if r["status"] == "failed"]
    assert failed and {r["task"] for r in failed} == {"broken"} and "ZeroDivisionError" in failed[0]["reason"]
    assert pooled.scores == alone.scores and without_latency(pooled.samples) == without_latency(alone.samples)
    assert {s["task"] for s in pooled.samples} == {"arithmetic", "word_problems"}
    assert all(s["latency_s"] >= TTFT_S for s in pooled.samples)  # each item's own request
    assert pooled.last_progress["arithmetic"] == (6, 6) and pooled.last_progress["word_problems"] == (6, 6)


def test_429_with_retry_after_is_waited_out_and_counted_never_scored(server: tuple[str, FaultState]) -> None:
    url, state = server
    state.retry_after = "0.1"
    reference, _, _ = evaluate(make(url, max_concurrency=8), 8, limit=24)  # unthrottled: the answers to match
    throttled, stats, _ = evaluate(make(url, model="answer-429", max_concurrency=8), 8, limit=24)
    posts = [r["body"]["prompt"] for r in state.requests if r["model"] == "answer-429"]
    answered_429 = list(dict.fromkeys(posts[2::3]))  # every third request, a prompt never twice
    # each distinct prompt answered once (items with the same prompt share one request), plus one retry per 429
    assert len(posts) == len(set(posts)) + len(answered_429) and len(set(posts)) <= 24 * len(TASKS)
    assert stats.throttled_requests == len(set(answered_429)) > 0  # requests throttled at least once
    assert without_latency(throttled.samples) == without_latency(reference.samples)  # no item lost or wrong
    assert throttled.scores == reference.scores


def test_retry_after_as_an_http_date_is_waited_out(server: tuple[str, FaultState]) -> None:
    url, state = server
    state.retry_after = email.utils.formatdate(time.time() + 1, usegmt=True)
    state.throttle_every = 2  # the second request is answered 429, its retry goes through
    backend = make(url, model="answer-429")
    first, second = StreamUsage(), StreamUsage()
    request = GenerationRequest(prompt="Q: 2 + 2\nA:", max_tokens=4)
    list(backend.stream(request, first))
    started = time.monotonic()
    text = "".join(c.text for c in backend.stream(request, second))
    assert first.throttled == 0 and second.throttled == 1 and text.strip()
    assert time.monotonic() - started <= 2.5


def test_a_throttle_is_429_or_503_with_retry_after() -> None:
    assert is_throttle(429, None) and is_throttle(429, 1.0) and is_throttle(503, 0.0)
    assert not is_throttle(503, None) and not is_throttle(500, 1.0)


def test_aimd_halves_once_per_burst_and_grows_by_one_per_n_successes() -> None:
    limit = AdaptiveLimit(16, grow_after=4)
    tickets = [limit.acquire() for _ in range(16)]
    for ticket in tickets[:5]:  # five requests of one burst throttled: one halving, not five
        limit.release(ticket, throttled=True)
    assert limit.limit == 8
    for ticket in tickets[5:9]:  # four successes: one step up
        limit.release(ticket, throttled=False)
    assert limit.limit == 9
    later = limit.acquire()  # sent after the decrease: its throttle halves again
    limit.release(later, throttled=True)
    assert limit.limit == 4
    for ticket in tickets[9:]:
        limit.release(ticket, throttled=False)
    assert limit.limit == 5  # 7 more successes: one step per 4
    stats = limit.stats()
    assert stats.throttled_requests == 6 and stats.peak_in_flight == 16 and stats.requests == 17


def test_aimd_never_exceeds_its_ceiling_nor_goes_below_one() -> None:
    limit = AdaptiveLimit(2, grow_after=1)
    for _ in range(5):
        limit.release(limit.acquire(), throttled=True)
    assert limit.limit == 1
    for _ in range(10):
        limit.release(limit.acquire(), throttled=False)
    assert limit.limit == 2


def test_paced_keeps_to_the_limit_and_raises_what_a_call_raises() -> None:
    limit = AdaptiveLimit(3)
    seen: list[int] = []

    def call(i: int) -> int:
        time.sleep(0.02)
        return i * i

    out = dict(paced(limit, list(range(12)), call))
    assert out == {i: i * i for i in range(12)} and limit.stats().peak_in_flight == 3

    def fail(i: int) -> int:
        seen.append(i)
        raise ValueError(f"boom {i}")

    with pytest.raises(ValueError, match="boom"):
        list(paced(AdaptiveLimit(1), [1, 2, 3], fail))
    assert seen == [1]  # sequential: stops at the first failure, in order


class _Backend:
    name = "x"

    def __init__(self, concurrent: bool, cap: int | None) -> None:
        self.capabilities = Capabilities(loglikelihood=False, concurrent=concurrent)
        self.max_concurrency = cap


def test_eval_concurrency_takes_the_catalog_cap_a_default_and_the_flag() -> None:
    assert eval_concurrency(_Backend(False, 32), 16) == 1  # type: ignore[arg-type]
    assert eval_concurrency(_Backend(True, 32), None) == 32  # type: ignore[arg-type]
    assert eval_concurrency(_Backend(True, None), None) == DEFAULT_EVAL_CONCURRENCY  # type: ignore[arg-type]
    assert eval_concurrency(_Backend(True, 32), 4) == 4  # type: ignore[arg-type]
    assert eval_concurrency(_Backend(True, 8), 64) == 8  # type: ignore[arg-type]
    assert eval_concurrency(_Backend(True, None), 64) == 64  # type: ignore[arg-type]


REPO = Path(__file__).resolve().parents[1]


def _tierbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        cwd=REPO, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_run_records_and_shows_its_concurrency_and_throttling(server: tuple[str, FaultState], tmp_path: Path) -> None:
    url, state = server
    state.retry_after = "0.1"
    params = {"model": "answer-429", "base_url": url, "api": "completions", "max_concurrency": 4}
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        json.dumps({"models": [{"name": "remote", "tier": "full", "backend": "openai", "params": params}]})
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps({"name": "conc", "models": ["remote"], "tasks": TASKS}))  # one pool for both
    run = tmp_path / "run"
    first = _tierbench("run", "--suite", str(suite), "--catalog", str(catalog), "--limit", "12", "--out", str(run))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    cells = RunStore.open(run).read_table("cells")
    assert int(cells["throttled_requests"].iloc[0]) > 0
    assert 1 < int(cells["eval_concurrency_used"].iloc[0]) <= 4
    samples = RunStore.open(run).read_samples()
    assert all(s["response"] for s in samples)  # no item lost to a 429
    assert [(s["task"], s["doc_id"]) for s in samples] == [(t, i) for t in TASKS for i in range(12)]
    printed = " ".join(first.stdout.split())
    assert "requests in flight" in printed and "throttled" in printed
    assert "requests in flight" in (run / "report.html").read_text()

    resumed = _tierbench("run", "--resume", str(run), "--eval-concurrency", "2")  # not a plan flag
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert json.loads((run / "meta.json").read_text())["options"]["eval_concurrency"] == 2
    refused = _tierbench("run", "--resume", str(run), "--limit", "3")
    assert refused.returncode == 2 and "--limit cannot be combined with --resume" in refused.stderr
