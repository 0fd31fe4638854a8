"""Log-likelihood scoring on llama.cpp that evaluates each shared prefix once.

Requests are tokenized as lm-eval's Hugging Face model does, then sorted by their tokens so each shares
the longest prefix with the one before (an item's context, a few-shot preamble); only the rest is
decoded, and logits are read only where they predict a continuation token: never an n_ctx x n_vocab
buffer (Gemma's vocabulary has 262k entries).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.backends.text import split_like_lm_eval


class _TokenizingBackend(Protocol):
    @property
    def llm(self) -> Any: ...

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]: ...


@dataclass
class ScoringStats:
    """What the last scoring call did: tokens decoded vs. those a no-reuse scorer would, and the rows of logits read."""

    decoded_tokens: int = 0
    requested_tokens: int = 0
    logit_rows: int = 0
    seconds: float = 0.0


LAST_STATS = ScoringStats()


def encode_pair(backend: _TokenizingBackend, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation tokens, split as lm-eval splits them (BOS added by the model's rule)."""
    context, continuation = split_like_lm_eval(context, continuation)
    context_tokens = backend.tokenize(context, add_bos=True)
    whole = backend.tokenize(context + continuation, add_bos=True)
    if not context_tokens:  # a model without BOS and an empty context: condition on EOS as lm-eval does
        context_tokens = [int(backend.llm.token_eos())]
        whole = context_tokens + whole
    return whole[: len(context_tokens)], whole[len(context_tokens) :]


def score_continuations(backend: _TokenizingBackend, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
    """log P(continuation | context) and whether greedy decoding would produce it, per request."""
    pairs = [encode_pair(backend, context, continuation) for context, continuation in requests]
    return score_token_pairs(backend.llm, pairs)


def score_rolling(backend: _TokenizingBackend, texts: Sequence[str]) -> list[float]:
    """Total log-likelihood of each text, in disjoint windows of the context size (lm-eval's rule)."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    llm = backend.llm
    max_length = int(llm.n_ctx()) - 1
    pairs: list[tuple[list[int], list[int]]] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        tokens = backend.tokenize(text, add_bos=False)
        prefix = int(llm.token_bos()) if int(llm.token_bos()) >= 0 else int(llm.token_eos())
        for window in get_rolling_token_windows(tokens, prefix, max_length, context_len=1):
            context, continuation = make_disjoint_window(window)
            pairs.append((list(context), list(continuation)))
            owners.append(index)
    totals = [0.0] * len(texts)
    for owner, (logprob, _) in zip(owners, score_token_pairs(llm, pairs), strict=True):
        totals[owner] += logprob
    return totals


_OUTPUT_BYTES = 256 * 2**20  # logits buffer budget per decode call


def score_token_pairs(llm: Any, pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
    """Score (context tokens, continuation tokens) pairs on the generation context (sequence 0), the KV
    cache keeping each shared prefix. Many sequences per batch were dropped: llama.cpp's unified KV cache
    gives wrong logits from 32 tokens a batch (ggml-org/llama.cpp#24962); split streams ran 10x slower."""
    import time

    import llama_cpp

    started = time.perf_counter()
    n_ctx = int(llm.n_ctx())
    n_vocab = int(llm.n_vocab())
    step = max(min(int(llm.n_batch), _OUTPUT_BYTES // (4 * n_vocab)), 1)
    ctx = llm._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    results: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)
    sequences: list[tuple[list[int], int]] = []  # full tokens, index of the first continuation token
    for context, continuation in pairs:
        full = (context + continuation)[-n_ctx:]
        sequences.append((full, len(full) - len(continuation)))
    order = sorted(range(len(pairs)), key=lambda i: sequences[i][0])
    order = [i for i in order if sequences[i][1] < len(sequences[i][0])]  # empty continuation: log 1
    stats = ScoringStats(requested_tokens=sum(len(sequences[i][0]) - 1 for i in order))
    batch = llama_cpp.llama_batch_init(step, 0, 1)
    cached: list[int] = []
    llm.reset()
    llama_cpp.llama_memory_clear(memory, True)
    try:
        for index in order:
            full, first = sequences[index]
            keep = max(min(_common_prefix(cached, full), first - 1), 0)
            llama_cpp.llama_memory_seq_rm(memory, 0, keep, -1)
            cached = cached[:keep]
            logprob, greedy = 0.0, True
            for start in range(keep, len(full) - 1, step):
                chunk = full[start : min(start + step, len(full) - 1)]
                outputs = [start + k for k in range(len(chunk)) if start + k >= first - 1]
                for k, token in enumerate(chunk):
                    _put(batch, k, token, start + k, 0, start + k >= first - 1)
                _decode(ctx, batch, len(chunk))
                stats.decoded_tokens += len(chunk)
                stats.logit_rows += len(outputs)
                cached.extend(chunk)
                if not outputs:
                    continue
                pointer = ctypes.cast(llama_cpp.llama_get_logits(ctx), ctypes.POINTER(ctypes.c_float))
                logits = np.ctypeslib.as_array(pointer, shape=(len(outputs), n_vocab))
                row_max = logits.max(axis=1)  # log of each row's softmax denominator, computed stably
                log_norm = row_max + np.log(np.exp(logits - row_max[:, None]).sum(axis=1))
                targets = np.array([full[pos + 1] for pos in outputs], dtype=np.int64)
                logprob += float((logits[np.arange(len(outputs)), targets] - log_norm).sum())
                greedy = greedy and bool((logits.argmax(axis=1) == targets).all())
            results[index] = (logprob, greedy)
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_memory_clear(memory, True)
        llm.reset()  # the generation path must not trust a prefix we overwrote
    stats.seconds = time.perf_counter() - started
    LAST_STATS.__dict__.update(stats.__dict__)
    return results


def _put(batch: Any, n: int, token: int, pos: int, seq: int, output: bool) -> None:
    batch.token[n] = token
    batch.pos[n] = pos
    batch.n_seq_id[n] = 1
    batch.seq_id[n][0] = seq
    batch.logits[n] = 1 if output else 0


def _decode(ctx: Any, batch: Any, n: int) -> None:
    import llama_cpp

    batch.n_tokens = n
    code = llama_cpp.llama_decode(ctx, batch)
    if code != 0:
        raise RuntimeError(f"llama_decode returned {code}")


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest start ``a`` and ``b`` share."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
