"""The OpenAI-compatible backend against endpoints that are down, slow, rate-limiting or broken.

Every fault must end as a recorded error with a clear message, within its timeout, and never
leak the API key.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers.fault_server import FaultState, fault_server

from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.openai_compat import OpenAICompatBackend
from harness.backends.registry import check_model, create_backend
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable, ConfigError
from harness.meters.latency import timed_generate
from harness.runner.load import Deadline

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def server() -> Iterator[tuple[str, FaultState]]:
    with fault_server(tokens=4) as running:
        yield running


def make(url: str, model: str = "ok", prices: dict[str, float] | None = None, **params: Any) -> OpenAICompatBackend:
    spec = ModelSpec(
        name="api",
        tier="full",
        backend="openai",
        params={"model": model, "base_url": url, "api_key_env": "TB_TEST_KEY", **params},
        prices=prices,
    )
    backend = create_backend(spec)
    assert isinstance(backend, OpenAICompatBackend)
    return backend


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TB_TEST_KEY", SECRET)


REQUEST = GenerationRequest(prompt="hello", max_tokens=4)


def test_stream_uses_server_usage_and_sends_the_key(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, prices={"input_per_mtok": 1.0, "output_per_mtok": 10.0})
    backend.load()
    usage = StreamUsage()
    chunks = list(backend.stream(REQUEST, usage))
    assert "".join(c.text for c in chunks) == " t0 t1 t2 t3"
    assert (usage.prompt_tokens, usage.output_tokens, usage.source) == (11, 4, "usage")
    assert usage.extra["cost_usd"] == pytest.approx((11 * 1.0 + 4 * 10.0) / 1e6)
    sent = state.requests[-1]
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert sent["body"]["stream_options"] == {"include_usage": True}
    assert sent["body"]["max_tokens"] == 4 and sent["body"]["temperature"] == 0.0
    assert SECRET not in repr(backend.describe())


def test_an_endpoint_without_logprobs_records_none_and_perf_requests_never_ask(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url)
    backend.load()
    usage = StreamUsage()
    assert (
        timed_generate(backend, GenerationRequest(prompt="hi", max_tokens=4, logprobs=True), usage=usage).error is None
    )
    assert usage.token_logprobs is None  # this server sends none: missing, never invented
    assert state.requests[-1]["body"]["logprobs"] is True and state.requests[-1]["body"]["top_logprobs"] == 1
    assert timed_generate(backend, REQUEST).error is None and "logprobs" not in state.requests[-1]["body"]
    off = make(url, logprobs=False)
    off.load()
    assert timed_generate(off, GenerationRequest(prompt="hi", max_tokens=4, logprobs=True)).error is None
    assert "logprobs" not in state.requests[-1]["body"]


def test_gpt5_style_request_fields(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, max_tokens_field="max_completion_tokens", send_temperature=False)
    backend.load()
    assert timed_generate(backend, REQUEST).error is None
    body = state.requests[-1]["body"]
    assert body["max_completion_tokens"] == 4 and "max_tokens" not in body and "temperature" not in body


@pytest.mark.parametrize(
    ("api", "chat", "path"),
    [
        ("auto", True, "/v1/chat/completions"),
        ("auto", False, "/v1/completions"),
        ("chat", False, "/v1/chat/completions"),
        ("completions", True, "/v1/completions"),
    ],
)
def test_api_mode_picks_the_endpoint(server: tuple[str, FaultState], api: str, chat: bool, path: str) -> None:
    url, state = server
    backend = make(url, api=api)
    backend.load()
    timing = timed_generate(backend, GenerationRequest(prompt="hi", max_tokens=4, chat=chat))
    assert timing.error is None and timing.text == " t0 t1 t2 t3"
    sent = state.requests[-1]
    assert sent["path"] == path
    assert ("messages" in sent["body"]) == path.endswith("/chat/completions")


def test_missing_usage_is_labelled(server: tuple[str, FaultState]) -> None:
    backend = make(server[0], model="ok-no-usage")
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is None
    assert (timing.output_tokens, timing.token_count_source) == (4, "chunks")


def test_429_is_retried_after_retry_after(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, model="429-then-ok", max_retries=3)
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is None and timing.output_tokens == 4
    times = [r["t"] for r in state.requests if r["model"] == "429-then-ok"]
    assert len(times) == 3
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))  # Retry-After: 0.2


def test_persistent_429_gives_up_with_a_clear_error(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, model="always-429", max_retries=2)
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is not None and "HTTP 429" in timing.error and "gave up after 3 attempts" in timing.error
    assert timing.ttft_s is None and state.counts["always-429"] == 3


def test_no_retry_waits_past_the_request_deadline(server: tuple[str, FaultState]) -> None:
    url, state = server  # Retry-After: 0.2, the request may take 0.1 s in all
    backend = make(url, model="always-429", max_retries=5)
    backend.load()
    usage = StreamUsage()
    timing = timed_generate(backend, GenerationRequest(prompt="hello", max_tokens=4, timeout_s=0.1), usage=usage)
    assert timing.error is not None and "no time left for a retry before the request deadline" in timing.error
    assert state.counts["always-429"] == 1 and usage.throttled == 1


def test_5xx_is_retried_with_backoff_then_reported(server: tuple[str, FaultState]) -> None:
    url, state = server
    backend = make(url, model="always-503", max_retries=2, backoff_s=0.05)
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is not None and "HTTP 503" in timing.error and "overloaded" in timing.error
    assert state.counts["always-503"] == 3


def test_key_is_redacted_from_error_text(server: tuple[str, FaultState]) -> None:
    backend = make(server[0], model="500-echo", max_retries=0)
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is not None and "HTTP 500" in timing.error
    assert SECRET not in timing.error and "***" in timing.error


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("malformed", "malformed server-sent event"),
        ("truncated", "before a finish_reason"),
        ("html", "before a finish_reason"),
    ],
)
def test_garbage_streams_are_errors(server: tuple[str, FaultState], model: str, message: str) -> None:
    backend = make(server[0], model=model)
    backend.load()
    timing = timed_generate(backend, REQUEST)
    assert timing.error is not None and message in timing.error, timing.error


def test_a_server_that_hangs_mid_stream_times_out(server: tuple[str, FaultState]) -> None:
    backend = make(server[0], model="hang", stall_timeout_s=0.5)
    backend.load()
    start = time.monotonic()
    timing = timed_generate(backend, REQUEST)
    assert time.monotonic() - start < 5
    assert timing.error is not None and "stalled" in timing.error


@pytest.mark.parametrize("model", ["hang", "trickle"])
@pytest.mark.parametrize("limit", ["backend timeout_s", "scenario request_timeout_s"])
def test_the_request_deadline_cuts_a_silent_or_trickling_stream(
    server: tuple[str, FaultState], model: str, limit: str
) -> None:
    # the stall timeout (30 s) never fires: 'hang' is silent for less, 'trickle' is never silent
    backend = make(server[0], model=model, timeout_s=1.0 if limit == "backend timeout_s" else 60, stall_timeout_s=30)
    backend.load()
    start = time.monotonic()
    if limit == "backend timeout_s":
        timing = timed_generate(backend, REQUEST)
        expected = "request exceeded its 1s deadline mid-stream"
    else:  # how the runner bounds a perf request; the backend's own timeout is long
        timing = timed_generate(Deadline(backend, time.perf_counter() + 1.0), REQUEST)  # type: ignore[arg-type]
        expected = "TimeoutError: request exceeded request_timeout_s"
    assert 0.9 < time.monotonic() - start < 10
    assert timing.error is not None and expected in timing.error, timing.error


def test_down_endpoint_fails_load_with_a_reason() -> None:
    from servers.llama_server import _free_port

    backend = make(f"http://127.0.0.1:{_free_port()}/v1", connect_timeout_s=2)
    with pytest.raises(BackendUnavailable, match=r"cannot reach http://127\.0\.0\.1"):
        backend.load()


def test_rejected_key_fails_load(server: tuple[str, FaultState], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TB_TEST_KEY", "rejected-key")
    with pytest.raises(BackendUnavailable, match=r"refused the credentials.*TB_TEST_KEY"):
        make(server[0]).load()


def test_check_names_the_missing_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TB_TEST_KEY")
    assert (
        check_model(make("https://api.example.com/v1").spec)
        == "TB_TEST_KEY is not set (the API key for https://api.example.com/v1)"
    )
    assert check_model(make("http://127.0.0.1:9/v1").spec) is None  # a local server needs no key
    monkeypatch.setenv("TB_BASE", "http://localhost:1234/v1")
    assert make("https://api.example.com/v1", base_url_env="TB_BASE").params.endpoint() == "http://localhost:1234/v1"


def test_secrets_cannot_be_written_in_the_catalog() -> None:
    with pytest.raises(ValueError, match="api_key_env"):
        ModelSpec(name="x", tier="full", backend="openai", params={"model": "m", "api_key": SECRET})
    with pytest.raises((ValueError, ConfigError), match="header_env"):
        make("http://127.0.0.1:9/v1", headers={"Authorization": f"Bearer {SECRET}"})
    with pytest.raises(ConfigError, match="unknown field"):
        make("http://127.0.0.1:9/v1", modle="typo")
