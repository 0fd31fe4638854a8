"""Every latency definition of docs/metrics.md, checked exactly against a backend with a scripted clock."""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.meters.latency import (
    RequestTiming,
    allocate_tokens,
    timed_generate,
    timing_from_events,
)
from harness.stats import summarize

EXACT = {"rel": 1e-12, "abs": 1e-12}
REQUEST = GenerationRequest(prompt="hello", max_tokens=16)


class FakeClock:
    """A clock the scripted backend moves: the harness reads exactly the scripted times."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.start = start

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedBackend:
    """Emits chunks at scripted offsets from the request's submission: (offset_s, text, n_tokens)."""

    clock: FakeClock
    script: Sequence[tuple[float, str, int]]
    prompt_tokens: int = 8
    usage_tokens: int | None = None
    usage_source: str = "backend"
    fail_after: int | None = None
    buffered: bool = False
    after_other_work: bool = False
    name: str = "scripted"
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(loglikelihood=False))

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        submitted = self.clock.now
        usage.prompt_tokens = self.prompt_tokens
        usage.source = self.usage_source  # type: ignore[assignment]
        usage.buffered = self.buffered
        usage.first_token_after_other_work = self.after_other_work
        for i, (offset, text, n_tokens) in enumerate(self.script):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionError("stream cut")
            self.clock.now = submitted + offset
            yield Chunk(text, n_tokens)
        usage.output_tokens = self.usage_tokens
        usage.finish_reason = "length"

    def load(self) -> None:
        self.clock.now += 2.5


def run(script: Sequence[tuple[float, str, int]], **kwargs: Any) -> RequestTiming:
    clock = FakeClock()
    backend = ScriptedBackend(clock, script, **kwargs)
    return timed_generate(backend, REQUEST, clock=clock)  # type: ignore[arg-type]


def test_one_token_per_chunk_gives_every_definition_exactly() -> None:
    t = run([(0.5, "a", 1), (0.625, "b", 1), (0.75, "c", 1), (1.0, "d", 1)], prompt_tokens=10)
    assert t.output_tokens == 4
    assert t.ttft_s == pytest.approx(0.5, **EXACT)  # submitted -> first token
    assert t.e2e_s == pytest.approx(1.0, **EXACT)  # submitted -> last token
    assert t.itl_s == pytest.approx([0.125, 0.125, 0.25], **EXACT)  # TTFT excluded
    assert t.tpot_s == pytest.approx(0.5 / 3, **EXACT)  # (E2E - TTFT) / (n - 1)
    assert t.decode_tps == pytest.approx(3 / 0.5, **EXACT)  # (n - 1) / (E2E - TTFT)
    assert t.prefill_tps == pytest.approx(10 / 0.5, **EXACT)  # prompt tokens / TTFT
    assert t.text == "abcd"
    assert t.finish_reason == "length"


def test_an_answer_held_back_and_sent_at_once_has_no_decode_or_prefill_rate() -> None:
    """A cascade tier's answer is judged whole before it is shown: the user waits 2 s, then gets
    every token within a millisecond. TTFT and E2E are what they saw; a decode rate of ~10^4 tok/s
    (the burst) or a prefill rate from a TTFT that includes the whole generation would be false."""
    t = run([(2.0, "a", 1), (2.0005, "b", 1), (2.001, "c", 1)], prompt_tokens=10, buffered=True)
    assert t.ttft_s == pytest.approx(2.0, **EXACT) and t.e2e_s == pytest.approx(2.001, **EXACT)
    assert t.decode_tps is None and t.tpot_s is None and t.prefill_tps is None and t.itl_s == []
    streamed = run([(2.0, "a", 1), (2.0005, "b", 1), (2.001, "c", 1)], prompt_tokens=10)
    assert streamed.decode_tps == pytest.approx(2 / 0.001, rel=1e-6)  # the same burst, if it were a stream


def test_a_stream_that_began_after_other_work_keeps_its_decode_rate_but_has_no_prefill_rate() -> None:
    """An escalated cascade item: mini streams live, but only after nano answered and was judged, so
    its TTFT (2 s) is mostly nano's work; prompt tokens / TTFT would understate mini's prefill."""
    t = run([(2.0, "a", 1), (2.1, "b", 1), (2.2, "c", 1)], prompt_tokens=10, after_other_work=True)
    assert t.ttft_s == pytest.approx(2.0, **EXACT) and t.prefill_tps is None
    assert t.decode_tps == pytest.approx(2 / 0.2, **EXACT) and t.itl_s == pytest.approx([0.1, 0.1], **EXACT)


def test_multi_token_chunks_share_their_gap_and_first_chunk_extras_have_none() -> None:
    t = run([(0.5, "ab", 2), (1.0, "cde", 3), (1.25, "f", 1)])
    assert t.output_tokens == 6  # tokens, not chunks
    assert t.ttft_s == pytest.approx(0.5, **EXACT)
    assert t.e2e_s == pytest.approx(1.25, **EXACT)
    assert t.itl_s == pytest.approx([0.0, 0.5 / 3, 0.5 / 3, 0.5 / 3, 0.25], **EXACT)
    assert t.tpot_s == pytest.approx(0.75 / 5, **EXACT)
    assert statistics.fmean(t.itl_s) == pytest.approx(t.tpot_s, **EXACT)
    assert t.decode_tps == pytest.approx(5 / 0.75, **EXACT)


def test_usage_count_overrides_chunk_count_and_keeps_one_itl_per_token() -> None:
    # a server streamed 3 chunks but its usage block says 5 tokens were generated
    t = run([(0.5, "a", 1), (1.0, "b", 1), (1.5, "c", 1)], usage_tokens=5, usage_source="usage")
    assert t.output_tokens == 5
    assert t.token_count_source == "usage"
    assert t.tpot_s == pytest.approx(1.0 / 4, **EXACT)
    assert t.decode_tps == pytest.approx(4 / 1.0, **EXACT)
    # 5 tokens spread over chunks weighted 1:1:1 -> 2, 1, 2 tokens
    assert t.itl_s == pytest.approx([0.0, 0.5, 0.25, 0.25], **EXACT)


def test_usage_count_below_chunk_count_keeps_first_and_last_chunk() -> None:
    t = run([(0.5, "a", 1), (1.0, "b", 1), (1.5, "c", 1), (2.0, "d", 1)], usage_tokens=2)
    assert t.e2e_s == pytest.approx(2.0, **EXACT)
    assert t.itl_s == pytest.approx([1.5], **EXACT)
    assert t.tpot_s == pytest.approx(1.5, **EXACT)


def test_flushed_text_without_tokens_is_kept_but_not_timed() -> None:
    t = run([(0.5, "a", 1), (0.75, "b", 1), (3.0, "</s", 0)])
    assert t.text == "ab</s"
    assert t.e2e_s == pytest.approx(0.75, **EXACT)
    assert t.output_tokens == 2


def test_single_token_has_no_decode_figures() -> None:
    t = run([(0.25, "a", 1)])
    assert (t.ttft_s, t.e2e_s) == (pytest.approx(0.25, **EXACT), pytest.approx(0.25, **EXACT))
    assert t.tpot_s is None and t.decode_tps is None and t.itl_s == []


def test_no_output_leaves_every_figure_undefined_not_zero() -> None:
    t = run([])
    assert t.output_tokens == 0
    assert t.ttft_s is None and t.e2e_s is None and t.tpot_s is None and t.prefill_tps is None


def test_failed_request_is_recorded_not_raised() -> None:
    t = run([(0.5, "a", 1), (1.0, "b", 1)], fail_after=1)
    assert t.error == "ConnectionError: stream cut"
    assert t.ttft_s is None and t.output_tokens == 1 and t.text == "a"


def test_summary_statistics_follow_their_documented_definitions() -> None:
    values = [float(v) for v in range(1, 101)]
    stats = summarize([*values, None, float("nan")])
    assert stats["count"] == 100
    assert stats["mean"] == pytest.approx(50.5, **EXACT)
    assert stats["std"] == pytest.approx(statistics.stdev(values), **EXACT)  # sample std (n - 1)
    # linear interpolation between closest ranks: rank = p/100 * (n - 1)
    assert stats["p50"] == pytest.approx(50.5, **EXACT)
    assert stats["p90"] == pytest.approx(90.1, **EXACT)
    assert stats["p95"] == pytest.approx(95.05, **EXACT)
    assert stats["p99"] == pytest.approx(99.01, **EXACT)
    single = summarize([3.0])
    assert single["std"] == 0.0 and single["p90"] == 3.0
    empty = summarize([])
    assert empty["count"] == 0 and empty["mean"] != empty["mean"]  # NaN, never 0


def test_allocation_keeps_the_total() -> None:
    assert allocate_tokens([1, 1, 1], 5) == [2, 1, 2]
    assert allocate_tokens([2, 3], 5) == [2, 3]
    assert allocate_tokens([1, 1, 1, 1], 1) == [1, 0, 0, 0]


chunk_lists = st.lists(
    st.tuples(st.floats(min_value=0.001, max_value=2.0), st.integers(min_value=0, max_value=4)),
    min_size=1,
    max_size=20,
)


@given(chunks=chunk_lists, override=st.one_of(st.none(), st.integers(min_value=1, max_value=60)))
def test_itl_has_one_gap_per_token_and_sums_to_decode_time(
    chunks: list[tuple[float, int]], override: int | None
) -> None:
    times: list[float] = []
    now = 10.0
    for gap, _ in chunks:
        now += gap
        times.append(now)
    tokens = [k for _, k in chunks]
    t = timing_from_events(10.0, times, tokens, prompt_tokens=4, output_tokens=override)
    if sum(tokens) == 0:
        assert t.ttft_s is None
        return
    n = override if override is not None else sum(tokens)
    assert t.output_tokens == n
    assert len(t.itl_s) == n - 1
    assert t.e2e_s is not None and t.ttft_s is not None
    assert sum(t.itl_s) == pytest.approx(t.e2e_s - t.ttft_s, rel=1e-9, abs=1e-9)
    if n > 1:
        assert statistics.fmean(t.itl_s) == pytest.approx(t.tpot_s, rel=1e-9, abs=1e-9)
