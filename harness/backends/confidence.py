"""Per-item confidence signals from what a backend returned (names: harness/results/signals.py), shared by
the evaluation layer and the live cascade so both compute the same number. ``None``: not available, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SELF_CHECK_YES = " Yes"
SELF_CHECK_NO = " No"


def softmax_margin(scores: Sequence[float]) -> float | None:
    """p_best - p_second with p = softmax(scores); None with fewer than two finite scores."""
    finite = [s for s in scores if math.isfinite(s)]
    if len(finite) < 2 or len(finite) != len(scores):
        return None
    top = max(finite)
    weights = sorted((math.exp(s - top) for s in finite), reverse=True)
    total = sum(weights)
    return (weights[0] - weights[1]) / total


def normalised_logliks(logliks: Sequence[float], lengths: Sequence[int]) -> list[float]:
    """Each log-likelihood divided by its choice's length in characters, as lm-eval's acc_norm; an empty
    choice by 1, so the margin stays finite (lm-eval's unguarded division would pick it whatever it scored)."""
    return [ll / max(int(n), 1) for ll, n in zip(logliks, lengths, strict=True)]


def mc_confidence(logliks: Sequence[float], lengths: Sequence[int]) -> dict[str, float | None]:
    """``mc_margin`` and ``mc_margin_norm`` of one multiple-choice item (choices in order)."""
    return {
        "mc_margin": softmax_margin(logliks),
        "mc_margin_norm": softmax_margin(normalised_logliks(logliks, lengths)),
    }


def gen_confidence(token_logprobs: Sequence[float] | None) -> dict[str, float | None]:
    """``gen_logprob_mean`` and ``gen_logprob_min`` of a generated answer; None without logprobs or tokens."""
    values = [float(v) for v in token_logprobs] if token_logprobs else []
    if not values or not all(math.isfinite(v) for v in values):
        return {"gen_logprob_mean": None, "gen_logprob_min": None}
    return {"gen_logprob_mean": sum(values) / len(values), "gen_logprob_min": min(values)}


def self_check_prompt(question: str, answer: str) -> str:
    """The question a tier is asked about its own ``answer`` to ``question`` (the item's own prompt):
    AutoMix-style self-verification."""
    return f"{question}{answer}\n\nIs the answer above correct? Answer Yes or No.\nAnswer:"


def yes_probability(loglik_yes: float, loglik_no: float) -> float | None:
    """P("Yes") normalised over Yes/No: exp(yes) / (exp(yes) + exp(no))."""
    if not (math.isfinite(loglik_yes) and math.isfinite(loglik_no)):
        return None
    top = max(loglik_yes, loglik_no)
    yes, no = math.exp(loglik_yes - top), math.exp(loglik_no - top)
    return yes / (yes + no)
