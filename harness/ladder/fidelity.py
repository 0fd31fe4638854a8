"""Fidelity of a quantized model to its source, measured on a fixed text through llama.cpp logits.

For each scored position i (the next token after a prefix of the text):

* KL divergence  KL_i = sum_v P_ref(v) * (log P_ref(v) - log P_q(v)), with P = softmax(logits);
* top-token agreement  A_i = [argmax P_ref == argmax P_q];
* negative log-likelihood  NLL_i = -log P(t_{i+1}) for each model; perplexity = exp(mean NLL).

The text is cut into blocks of ``block_tokens`` (each evaluated from a fresh context with BOS);
the 95% intervals are percentile bootstraps that resample runs of ``unit_tokens`` consecutive
positions (neighbouring positions are correlated, so single positions would overstate precision).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax

from harness.stats import percentile_interval, resample_index

DEFAULT_TEXT = "ladder_text.txt"
N_RESAMPLES = 1000


def builtin_text_path() -> Path:
    """The text shipped with tierbench (self-written, public domain; tasks/fidelity/)."""
    return Path(str(files("harness.tasks"))) / "fidelity" / DEFAULT_TEXT


@dataclass
class PositionStats:
    """Per-position figures of one model against the reference, in text order."""

    kl: list[float]
    agree: list[float]
    nll: list[float]
    nll_reference: list[float]

    def extend(self, other: PositionStats) -> None:
        for field in fields(self):
            getattr(self, field.name).extend(getattr(other, field.name))


def compare_logits(
    reference: NDArray[np.float32], other: NDArray[np.float32], next_tokens: Sequence[int], rows: int = 32
) -> PositionStats:
    """KL(reference || other), top-token agreement and both NLLs for each row (position) of two logit matrices."""
    stats = PositionStats([], [], [], [])
    targets = np.asarray(next_tokens)
    for start in range(0, reference.shape[0], rows):  # in slices: a row is the whole vocabulary
        ref = log_softmax(reference[start : start + rows].astype(np.float64), axis=1)
        oth = log_softmax(other[start : start + rows].astype(np.float64), axis=1)
        kl = np.maximum((np.exp(ref) * (ref - oth)).sum(axis=1), 0.0)
        idx = np.arange(ref.shape[0])
        tgt = targets[start : start + rows]
        stats.kl += kl.tolist()
        stats.agree += (ref.argmax(axis=1) == oth.argmax(axis=1)).astype(float).tolist()
        stats.nll += (-oth[idx, tgt]).tolist()
        stats.nll_reference += (-ref[idx, tgt]).tolist()
    return stats


def block_bootstrap(values: Sequence[float], unit: int, seed: int = 0) -> tuple[float, float | None, float | None]:
    """Mean of ``values`` and a 95% percentile interval resampling runs of ``unit`` positions."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    n_units = int(np.ceil(data.size / unit))
    if n_units < 2:
        return mean, None, None
    sums = np.array([data[i * unit : (i + 1) * unit].sum() for i in range(n_units)])
    counts = np.array([data[i * unit : (i + 1) * unit].size for i in range(n_units)], dtype=float)
    if np.ptp(sums / counts) == 0:  # every unit the same (e.g. a model against itself): no spread
        return mean, mean, mean
    rows = resample_index(n_units, N_RESAMPLES, np.random.default_rng(seed))
    return mean, *percentile_interval(sums[rows].sum(axis=1) / counts[rows].sum(axis=1), 0.95)


def summarize(stats: PositionStats, unit: int, seed: int = 0) -> dict[str, Any]:
    """The fidelity row of one model: means with 95% intervals (perplexity: exp of the NLL's)."""
    row: dict[str, Any] = {"positions": len(stats.kl), "kl_p99": float(np.percentile(stats.kl, 99))}
    for values, mean_key, prefix, exp in (
        (stats.kl, "kl_mean", "kl", False),
        (stats.agree, "top1_agreement", "top1", False),
        (stats.nll, "ppl", "ppl", True),
        (stats.nll_reference, "ppl_reference", "ppl_reference", True),
    ):
        figures: tuple[float | None, ...] = block_bootstrap(values, unit, seed)
        if exp:
            figures = tuple(None if x is None else float(np.exp(x)) for x in figures)
        row.update(zip((mean_key, f"{prefix}_ci_low", f"{prefix}_ci_high"), figures, strict=True))
    return row


# -- measurement through llama-cpp-python ------------------------------------------------------
def _load(path: str, n_ctx: int, threads: int | None) -> Any:
    from harness.backends.llamacpp import open_llama

    return open_llama(
        Path(path),
        n_ctx=n_ctx,
        n_batch=n_ctx,
        n_ubatch=n_ctx,
        logits_all=True,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def _blocks(tokens: list[int], block: int) -> Iterator[list[int]]:
    for start in range(0, len(tokens), block - 1):
        chunk = tokens[start : start + block - 1]
        if len(chunk) >= 2:
            yield chunk


def _logits(llm: Any, bos: list[int], chunk: list[int]) -> NDArray[np.float32]:
    """Logits after each token of the chunk (the BOS row predicts the chunk's first token)."""
    llm.reset()
    llm.eval(bos + chunk)
    scores: NDArray[np.float32] = np.asarray(llm.scores[: len(bos) + len(chunk) - 1], dtype=np.float32)
    return scores


def measure(
    reference: str,
    models: dict[str, str],
    text: str,
    *,
    max_tokens: int,
    block_tokens: int = 256,
    unit_tokens: int = 32,
    threads: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Fidelity of each model (name -> GGUF path) to the ``reference`` GGUF, on the first ``max_tokens`` of ``text``.

    A model whose path is the reference's own is compared with the reference's logits (KL 0,
    agreement 1: the check that the measurement itself adds nothing).
    """
    ref = _load(reference, block_tokens, threads)
    loaded = {
        name: ref if Path(path) == Path(reference) else _load(path, block_tokens, threads)
        for name, path in models.items()
    }
    try:
        tokens = ref.tokenize(text.encode("utf-8"), add_bos=False)[:max_tokens]
        bos = [ref.token_bos()]
        stats = {name: PositionStats([], [], [], []) for name in models}
        for chunk in _blocks(tokens, block_tokens):
            ref_logits = _logits(ref, bos, chunk)
            for name, llm in loaded.items():
                other = ref_logits if llm is ref else _logits(llm, bos, chunk)
                stats[name].extend(compare_logits(ref_logits, other, chunk))
        return {
            name: {**summarize(s, unit_tokens, seed), "tokens": len(tokens), "block_tokens": block_tokens}
            for name, s in stats.items()
        }
    finally:
        for llm in {id(x): x for x in [ref, *loaded.values()]}.values():
            llm.close()
