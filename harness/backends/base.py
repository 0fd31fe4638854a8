"""The backend contract: what every model runtime gives the harness.

Backends only stream text chunks and report token counts; the harness times the stream itself
(``harness.meters.latency.timed_generate``) so that TTFT, ITL and TPOT mean the same thing for
every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

TokenCountSource = Literal["backend", "usage", "retokenized", "chunks"]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. ``chat`` applies the model's chat template to ``prompt`` as a user turn."""

    prompt: str
    max_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    chat: bool = False
    ignore_eos: bool = False
    seed: int = 0
    # the longest the whole request may take from the call to stream(); a backend that waits on a
    # network cuts the request there even while nothing arrives (None: the backend's own limit)
    timeout_s: float | None = None
    logprobs: bool = False  # evaluation asks for them (confidence signals); perf requests never do


@dataclass(frozen=True)
class Chunk:
    """A piece of streamed output and how many tokens it carries (1 for most runtimes)."""

    text: str
    n_tokens: int = 1
    # a piece of the model's streamed reasoning: timed, never part of the answer (no text, no answer tokens);
    # any chunk, even an empty one, is timed: the first one gives first-byte time
    reasoning: bool = False


@dataclass
class StreamUsage:
    """Filled in by the backend while streaming: token counts and how they were obtained."""

    prompt_tokens: int | None = None
    output_tokens: int | None = None
    source: TokenCountSource = "backend"
    finish_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # natural-log probability of each generated token, filled only when the request asked for
    # ``logprobs`` and the runtime can give them (None: not asked, or not available)
    token_logprobs: list[float] | None = None
    # the answer was held back until it was whole and then sent at once (a cascade tier whose answer
    # had to be judged before it could be shown): its chunk times say nothing about decode speed
    buffered: bool = False
    # the first token came after other work than this request's own prefill (a cascade's cheaper tiers
    # answered and were judged before the tier that streams): TTFT is what the user waited, but prompt
    # tokens / TTFT is no prefill rate
    first_token_after_other_work: bool = False
    # answers the endpoint throttled this request with (HTTP 429, or 503 with Retry-After) before it went
    # through: each was waited out and retried by the backend's retry policy, never scored as an answer
    throttled: int = 0
    # of ``output_tokens``, those the model spent reasoning (billed as output, never shown), and of
    # ``prompt_tokens``, those the server read from its prompt cache (billed at the cached price); None: not reported
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the evaluator reports unsupported tasks instead of scoring 0."""

    loglikelihood: bool
    streaming: bool = True
    concurrent: bool = False
    chat: bool = True


@runtime_checkable
class ConcurrencyCapped(Protocol):
    """A concurrent backend that knows how many requests its endpoint takes at once (catalog
    ``max_concurrency``; None: no stated cap)."""

    @property
    def max_concurrency(self) -> int | None: ...


@runtime_checkable
class Backend(Protocol):
    """A loaded (or loadable) model runtime, built only in a cell's worker.

    Whether it can run here is its plugin's question, answered without building it
    (``harness.backends.plugin.BackendPlugin.check``).
    """

    name: str
    capabilities: Capabilities

    def load(self) -> None:
        """Load weights / open connections. Raises BackendUnavailable when it cannot run here."""

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        """Yield output chunks as soon as they exist; fill ``usage`` before returning."""

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): log P(continuation | context) and whether it is greedy."""

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Total log-likelihood of each text (for perplexity tasks)."""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` under this model's tokenizer (or an estimate, labelled by the caller)."""

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        """A prompt of about ``n_tokens`` tokens for perf scenarios (deterministic in ``seed``)."""

    def describe(self) -> dict[str, Any]:
        """Facts for meta.json and the report (model file, size, runtime version). No secrets."""

    def close(self) -> None:
        """Release resources."""


@dataclass(frozen=True)
class ItemRequest:
    """Every log-likelihood request of one item (a multiple-choice document's choices, in order)."""

    pairs: list[tuple[str, str]]
    choice_lengths: list[int] | None = None  # characters per choice, as lm-eval's acc_norm counts them


@dataclass(frozen=True)
class ItemScores:
    """Log-likelihoods of one item's requests (in order) and what a composite backend did for it."""

    results: list[tuple[float, bool]]
    trace: dict[str, Any] | None = None  # extra sample fields, e.g. which cascade tier answered


@runtime_checkable
class ItemScoringBackend(Protocol):
    """A backend that must see every request of one item together (a cascade decides per item).

    The lm-eval adapter hands such a backend whole items (all choices of one document) instead
    of loose request chunks; every other backend gets ``loglikelihood`` as before.
    """

    def loglikelihood_items(self, items: Sequence[ItemRequest]) -> list[ItemScores]:
        """For each item, its requests' (log P(continuation | context), greedy) and a trace."""
