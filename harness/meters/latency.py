"""Request latency, defined once for every backend (docs/metrics.md is the reference).

TTFT ends at the first *answer* token (a reasoning model's thinking is not an answer; first-byte and
first-reasoning times are kept beside it); TPOT and ITL count visible tokens only, the decode rate
counts reasoning tokens too. Load time is never mixed into request latency.

Streams do not always carry one token per chunk: a chunk of k tokens shares the gap before it equally
among them for ITL (so a request's mean ITL equals its TPOT), and the first chunk's extra tokens come
with zero gap. Token counts come from the backend, never from chunk counts; a better total reported
afterwards (server ``usage``) is spread over the chunks in proportion to their own counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate, pairwise
from typing import Any, Protocol

from harness.backends.base import Chunk, GenerationRequest, StreamUsage, TokenCountSource
from harness.secrets import clip


@dataclass
class RequestTiming:
    """What one request measured. Times are seconds; ``None`` where undefined (or the request failed)."""

    prompt_tokens: int
    output_tokens: int
    ttft_s: float | None = None
    e2e_s: float | None = None
    tpot_s: float | None = None
    decode_tps: float | None = None
    prefill_tps: float | None = None
    itl_s: list[float] = field(default_factory=list)
    token_count_source: TokenCountSource = "backend"
    finish_reason: str = ""
    error: str | None = None
    text: str = ""
    warmup: bool = False
    # of output_tokens: the answer's tokens and the hidden reasoning's; of prompt_tokens: those read from cache
    visible_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    first_byte_s: float | None = None  # the stream's first event of any kind
    first_reasoning_s: float | None = None  # the first streamed reasoning token (None: reasoning not streamed)
    # the model hit its token limit (finish_reason length) before any visible answer: it ran out while reasoning
    truncated_reasoning: bool = False

    def row(self) -> dict[str, Any]:
        """A flat record for tables (ITL list kept for pooled percentiles)."""
        return {name: value for name, value in asdict(self).items() if name != "text"}


def allocate_tokens(chunk_tokens: Sequence[int], total: int) -> list[int]:
    """Spread ``total`` tokens over chunks in proportion to their own counts (cumulative rounding); the
    first chunk always gets one (it defines TTFT) and, with two or more, so does the last (it defines E2E)."""
    counted = sum(chunk_tokens)
    if counted == total or counted <= 0 or total <= 0:
        return list(chunk_tokens)
    last = len(chunk_tokens) - 1
    boundaries = [0]  # tokens allocated up to and including each chunk
    for i, cumulative in enumerate(accumulate(chunk_tokens)):
        boundary = max(math.floor(cumulative * total / counted + 0.5), 1)
        boundaries.append(min(boundary, total - 1) if i < last and total >= 2 else boundary)
    return [high - low for low, high in pairwise(boundaries)]


def timing_from_events(
    t_submit: float,
    chunk_times: Sequence[float],
    chunk_tokens: Sequence[int],
    prompt_tokens: int,
    output_tokens: int | None = None,
    source: TokenCountSource = "backend",
) -> RequestTiming:
    """Every latency figure from when each chunk arrived and how many tokens it held; ``output_tokens``
    overrides the chunk total (a server's usage), and chunks without a token (flushed text) are ignored."""
    events = [(t, int(k)) for t, k in zip(chunk_times, chunk_tokens, strict=True) if int(k) > 0]
    counted = sum(k for _, k in events)
    n_out = output_tokens if output_tokens is not None else counted
    if not events or n_out <= 0:
        return RequestTiming(prompt_tokens, max(n_out, 0), token_count_source=source)
    times = [t for t, _ in events]
    allocated = allocate_tokens([k for _, k in events], n_out)
    ttft = times[0] - t_submit
    itl: list[float] = [0.0] * (allocated[0] - 1)  # extra tokens of the first chunk: no gap
    last_token_time = times[0]
    pending = 0.0  # time since the last chunk that carried tokens
    for prev, cur, m in zip(times, times[1:], allocated[1:], strict=False):
        pending += cur - prev
        if m <= 0:
            continue
        itl.extend([pending / m] * m)
        pending = 0.0
        last_token_time = cur
    e2e = last_token_time - t_submit
    decode_time = e2e - ttft
    tpot = decode_time / (n_out - 1) if n_out > 1 else None
    decode_tps = (n_out - 1) / decode_time if n_out > 1 and decode_time > 0 else None
    prefill_tps = prompt_tokens / ttft if ttft > 0 and prompt_tokens > 0 else None
    return RequestTiming(prompt_tokens, n_out, ttft, e2e, tpot, decode_tps, prefill_tps, itl, token_count_source=source)


class Streams(Protocol):
    """What timing a request needs: a backend, or a wrapper around one that bounds its stream."""

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]: ...


def timed_generate(
    backend: Streams,
    request: GenerationRequest,
    clock: Callable[[], float] = time.perf_counter,
    warmup: bool = False,
    usage: StreamUsage | None = None,
) -> RequestTiming:
    """Run one streamed request and time it; a backend error is recorded, not raised. The loop does as
    little as possible per chunk so the harness costs the measured program almost nothing
    (benchmarks/overhead.py); a caller wanting log-probabilities or a cascade's trace passes its ``usage``."""
    usage = usage if usage is not None else StreamUsage()
    times: list[float] = []
    tokens: list[int] = []
    parts: list[str] = []
    first_reasoning: float | None = None
    t_submit = clock()
    try:
        for chunk in backend.stream(request, usage):
            times.append(clock())
            tokens.append(chunk.n_tokens)
            parts.append(chunk.text)
            if chunk.reasoning and first_reasoning is None:
                first_reasoning = times[-1]
    except Exception as exc:  # a failed request is counted, never folded into latency
        return RequestTiming(
            usage.prompt_tokens or 0,
            sum(k for k in tokens if k > 0),
            error=clip(f"{type(exc).__name__}: {exc}", 500),
            text="".join(parts),
            warmup=warmup,
        )
    t_end = clock()
    hidden = usage.reasoning_tokens or 0
    visible = None if usage.output_tokens is None else max(usage.output_tokens - hidden, 0)
    timing = timing_from_events(t_submit, times, tokens, usage.prompt_tokens or 0, visible, usage.source)
    timing.text = "".join(parts)
    _account_reasoning(timing, usage, t_submit, times[0] if times else None, first_reasoning, t_end)
    if usage.buffered or usage.first_token_after_other_work:
        timing.prefill_tps = None  # TTFT holds more than this request's prefill
    if usage.buffered:
        # the first token arrived with the whole answer: TTFT and E2E are what the user saw, but no
        # decode rate, time per token or inter-token gap can be read from a burst
        timing.decode_tps = timing.tpot_s = None
        timing.itl_s = []
    timing.finish_reason = usage.finish_reason
    reasoned = bool(usage.reasoning_tokens) or first_reasoning is not None
    timing.truncated_reasoning = reasoned and usage.finish_reason == "length" and not timing.text.strip()
    timing.warmup = warmup
    return timing


def _account_reasoning(
    timing: RequestTiming,
    usage: StreamUsage,
    t_submit: float,
    first_event: float | None,
    first_reasoning: float | None,
    t_end: float,
) -> None:
    """Split the output into answer and reasoning tokens and keep the times before the first answer token.
    Reasoning counts in the decode rate; a TTFT holding hidden thinking gives no prefill rate (streamed
    reasoning does: its first token ends the prefill)."""
    timing.visible_tokens = timing.output_tokens
    timing.reasoning_tokens, timing.cached_tokens = usage.reasoning_tokens, usage.cached_tokens
    timing.first_byte_s = None if first_event is None else first_event - t_submit
    timing.first_reasoning_s = None if first_reasoning is None else first_reasoning - t_submit
    if not usage.reasoning_tokens and first_reasoning is None:
        return
    if timing.e2e_s is None:  # it reasoned but gave no answer token: the request took until its stream ended
        timing.e2e_s = t_end - t_submit
    if not usage.reasoning_tokens:
        return
    timing.output_tokens += usage.reasoning_tokens
    start = timing.first_reasoning_s or 0.0
    window = timing.e2e_s - start
    timing.decode_tps = (timing.output_tokens - 1) / window if window > 0 and timing.output_tokens > 1 else None
    timing.prefill_tps = (
        timing.prompt_tokens / start if start > 0 and timing.prompt_tokens > 0 and first_reasoning is not None else None
    )
