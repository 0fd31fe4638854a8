"""Per-item confidence signals: the names a sample may carry, and what each one means.

Writers (the evaluation layer, the live cascade backend) put a ``confidence`` mapping into every
sample record: ``{signal_name: float | None}``. Readers (cascade replay, report) look a signal up
here to learn what it measures. Higher always means "more confident". ``None`` means the backend
could not provide it (e.g. an endpoint that returns no ``logprobs``): it is never invented.

Besides ``confidence``, a multiple-choice sample keeps the evidence the margins come from:
``choice_loglik`` (raw log-likelihood per choice, in choice order) and ``choice_loglik_norm``
(the same divided by the continuation's length in characters, as lm-eval's ``acc_norm``).
A sample that was self-checked keeps that check's own cost in ``self_check_latency_s``,
``self_check_prompt_tokens`` and ``self_check_output_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIDENCE_FIELD = "confidence"
CHOICE_LOGLIK_FIELD = "choice_loglik"
CHOICE_LOGLIK_NORM_FIELD = "choice_loglik_norm"
SELF_CHECK_COST_FIELDS = ("self_check_latency_s", "self_check_prompt_tokens", "self_check_output_tokens")


@dataclass(frozen=True)
class Signal:
    """One confidence signal: its name in samples, the kind of item it applies to, one sentence."""

    name: str
    applies_to: str  # "multiple_choice" | "generate" | "any"
    description: str
    extra_cost: bool = False  # True when computing it costs a request of its own


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "mc_margin",
            "multiple_choice",
            "probability of the best choice minus that of the runner-up, softmax over raw log-likelihoods",
        ),
        Signal(
            "mc_margin_norm",
            "multiple_choice",
            "the same margin over length-normalised log-likelihoods (acc_norm's scores)",
        ),
        Signal(
            "gen_logprob_mean",
            "generate",
            "mean log-probability of the generated answer's tokens (natural log)",
        ),
        Signal(
            "gen_logprob_min",
            "generate",
            "lowest log-probability among the generated answer's tokens (natural log)",
        ),
        Signal(
            "self_check",
            "any",
            "probability the tier gives to 'Yes' when asked whether its own answer is correct (AutoMix-style)",
            extra_cost=True,
        ),
    )
}
