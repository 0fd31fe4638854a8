"""Request latency, defined once for every backend (see docs/metrics.md).

- TTFT: request submitted -> first output token available to the caller.
- E2E: request submitted -> last output token.
- ITL: gaps between consecutive output tokens (TTFT excluded), pooled over tokens.
- TPOT: (E2E - TTFT) / (output tokens - 1).
- Decode throughput: (output tokens - 1) / (E2E - TTFT); prefill throughput: prompt tokens / TTFT.

A chunk that carries k tokens makes k tokens available at once: the gap before it is shared
equally among them for ITL, and token counts come from the backend, never from chunk counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.backends.base import Backend, GenerationRequest, StreamUsage, TokenCountSource

Clock = Callable[[], float]


@dataclass
class RequestTiming:
    """What one request measured. Times are seconds; ``None`` where undefined."""

    prompt_tokens: int
    output_tokens: int
    ttft_s: float | None
    e2e_s: float | None
    tpot_s: float | None
    decode_tps: float | None
    prefill_tps: float | None
    itl_s: list[float] = field(default_factory=list)
    token_count_source: TokenCountSource = "backend"
    finish_reason: str = ""
    error: str | None = None
    text: str = ""

    def row(self) -> dict[str, Any]:
        """A flat record for tables (ITL list kept for pooled percentiles)."""
        data = asdict(self)
        data.pop("text")
        return data


def timing_from_events(
    t_submit: float,
    chunk_times: Sequence[float],
    chunk_tokens: Sequence[int],
    prompt_tokens: int,
    output_tokens: int | None = None,
    source: TokenCountSource = "backend",
) -> RequestTiming:
    """Derive every latency figure from when each chunk arrived and how many tokens it held.

    ``output_tokens`` overrides the chunk token total when the backend reports a better count
    (e.g. server usage); ITL then spreads each gap over the tokens of the chunk that ended it.
    """
    counted = int(sum(chunk_tokens))
    n_out = output_tokens if output_tokens is not None else counted
    if not chunk_times or n_out <= 0:
        return RequestTiming(prompt_tokens, max(n_out, 0), None, None, None, None, None, token_count_source=source)
    ttft = chunk_times[0] - t_submit
    e2e = chunk_times[-1] - t_submit
    itl: list[float] = []
    for prev, cur, k in zip(chunk_times, chunk_times[1:], chunk_tokens[1:], strict=False):
        k = max(int(k), 1)
        itl.extend([(cur - prev) / k] * k)
    # tokens delivered with the first chunk beyond the first token arrive with zero gap
    first_extra = max(int(chunk_tokens[0]) - 1, 0)
    itl = [0.0] * first_extra + itl
    decode_time = e2e - ttft
    tpot = decode_time / (n_out - 1) if n_out > 1 else None
    decode_tps = (n_out - 1) / decode_time if n_out > 1 and decode_time > 0 else None
    prefill_tps = prompt_tokens / ttft if ttft > 0 and prompt_tokens > 0 else None
    return RequestTiming(prompt_tokens, n_out, ttft, e2e, tpot, decode_tps, prefill_tps, itl, token_count_source=source)


def timed_generate(backend: Backend, request: GenerationRequest, clock: Clock = time.perf_counter) -> RequestTiming:
    """Run one streamed request and time it. Backend errors become a recorded error, not a raise."""
    usage = StreamUsage()
    times: list[float] = []
    tokens: list[int] = []
    parts: list[str] = []
    t_submit = clock()
    try:
        for chunk in backend.stream(request, usage):
            now = clock()
            parts.append(chunk.text)
            if chunk.n_tokens <= 0:  # trailing text with no new token (e.g. a flushed buffer)
                continue
            times.append(now)
            tokens.append(chunk.n_tokens)
    except Exception as exc:  # a failed request is counted, never folded into latency
        timing = RequestTiming(
            usage.prompt_tokens or 0,
            int(sum(tokens)),
            None,
            None,
            None,
            None,
            None,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        timing.text = "".join(parts)
        return timing
    timing = timing_from_events(t_submit, times, tokens, usage.prompt_tokens or 0, usage.output_tokens, usage.source)
    timing.finish_reason = usage.finish_reason
    timing.text = "".join(parts)
    return timing


PERCENTILES = (50, 90, 95, 99)


def summarize(values: Iterable[float | None]) -> dict[str, float]:
    """count, mean, std, p50, p90, p95, p99 of the defined values (NaN where there are none)."""
    data = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    out: dict[str, float] = {"count": float(data.size)}
    if data.size == 0:
        out.update({"mean": math.nan, "std": math.nan, **{f"p{p}": math.nan for p in PERCENTILES}})
        return out
    out["mean"] = float(data.mean())
    out["std"] = float(data.std(ddof=1)) if data.size > 1 else 0.0
    for p in PERCENTILES:
        out[f"p{p}"] = float(np.percentile(data, p))
    return out
