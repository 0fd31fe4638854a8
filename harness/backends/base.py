"""The backend contract. Backends only stream text chunks and report token counts; the harness times
the stream itself (``meters.latency.timed_generate``), so TTFT, ITL and TPOT mean the same for every backend."""

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
    # the longest the whole request may take from stream(), cut even while nothing arrives (None: the backend's own)
    timeout_s: float | None = None
    logprobs: bool = False  # evaluation asks for them (confidence signals); perf requests never do


@dataclass(frozen=True)
class Chunk:
    """A piece of streamed output and how many tokens it carries (1 for most runtimes)."""

    text: str
    n_tokens: int = 1
    # streamed reasoning: timed (any chunk, even empty, is; the first gives first-byte time), never the answer
    reasoning: bool = False


@dataclass
class StreamUsage:
    """Filled in by the backend while streaming: token counts and how they were obtained."""

    prompt_tokens: int | None = None
    output_tokens: int | None = None
    source: TokenCountSource = "backend"
    finish_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # natural-log probability of each generated token (None: not asked for, or not available)
    token_logprobs: list[float] | None = None
    # the answer was held back until whole (a cascade tier judged first): its chunk times say nothing of decode speed
    buffered: bool = False
    # the first token came after other work (a cascade's cheaper tiers): TTFT is the user's wait, not a prefill rate
    first_token_after_other_work: bool = False
    # throttling answers (429, or 503 with Retry-After) waited out and retried before it went through
    throttled: int = 0
    # of the output, tokens spent reasoning (billed as output); of the prompt, tokens read from the server's
    # prompt cache (billed at the cached price); None: not reported
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
    """A concurrent backend that knows how many requests its endpoint takes at once (None: no stated cap)."""

    @property
    def max_concurrency(self) -> int | None: ...


@runtime_checkable
class Backend(Protocol):
    """A loaded (or loadable) model runtime, built only in a cell's worker; whether it can run here is
    its plugin's question, answered without building it (``BackendPlugin.check``)."""

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
    """A backend that must see every request of one item together (a cascade decides per item): the
    lm-eval adapter hands it whole items (all choices of one document), not loose request chunks."""

    def loglikelihood_items(self, items: Sequence[ItemRequest]) -> list[ItemScores]:
        """For each item, its requests' (log P(continuation | context), greedy) and a trace."""
