"""The cascade rule engine: a cascade's catalog settings parsed into rules, and the one escalation rule.

An item stays at the first tier whose confidence signal is at least that tier's threshold; a
missing signal (None, NaN) escalates, since no evidence of confidence is no confidence; the last
tier always answers. The live cascade backend decides one item at a time with :meth:`Rule.stays`,
the replay many items at many thresholds with :func:`answering_tier`: both through :func:`stays`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.config.models import ModelSpec
from harness.results.signals import SIGNALS

KINDS = ("multiple_choice", "generate")


def stays(confidence: ArrayLike, thresholds: ArrayLike) -> NDArray[np.bool_]:
    """Where a tier keeps the item: its signal at least its threshold (NaN, a missing signal, never does)."""
    stay: NDArray[np.bool_] = np.greater_equal(np.asarray(confidence, dtype=float), thresholds)
    return stay


def answering_tier(confidence: NDArray[np.float64], thresholds: NDArray[np.float64]) -> NDArray[np.int64]:
    """(m, n): the tier that answers each item (rows of ``confidence``, (n, k)) at each row of ``thresholds`` (m, k-1)."""
    k = confidence.shape[1]
    stay = stays(confidence[None, :, : k - 1], thresholds[:, None, :])
    answer: NDArray[np.int64] = np.where(stay.any(axis=-1), stay.argmax(axis=-1), k - 1)
    return answer


@dataclass(frozen=True)
class Rule:
    """The signal that decides items of one kind, and one threshold per non-final tier."""

    signal: str
    thresholds: tuple[float, ...]

    def stays(self, step: int, value: float | None) -> bool:
        """Whether tier ``step`` keeps an item whose signal there is ``value``."""
        return bool(stays(np.nan if value is None else value, self.thresholds[step]))

    def answer(self, confidence: Sequence[float | None]) -> int:
        """The tier that answers one item whose tiers gave ``confidence`` (the last tier's is not read)."""
        row = np.array([[np.nan if v is None else v for v in confidence]], dtype=float)
        return int(answering_tier(row, np.array([self.thresholds], dtype=float))[0, 0])


class CascadeParams(BaseModel):
    """Settings of a cascade model in the catalog."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    chain: list[str] = Field(min_length=2, description="Catalog model names, cheapest first; the last always answers.")
    signal: str | dict[str, str] = Field(
        description="Confidence signal that decides (harness/results/signals.py), or one per item kind: "
        "{multiple_choice: mc_margin, generate: gen_logprob_mean}."
    )
    threshold: float | list[float] | dict[str, float | list[float]] = Field(
        description="Stay at a tier when its signal >= threshold: one for every non-final tier, one per "
        "non-final tier, or (with a signal per kind) a mapping signal name -> either."
    )
    tiers: list[ModelSpec] = Field(
        default_factory=list, description="Filled in by the catalog: the chain's model specs (do not write)."
    )

    @field_validator("chain")
    @classmethod
    def _distinct(cls, chain: list[str]) -> list[str]:
        if len(set(chain)) != len(chain):
            raise ValueError(f"chain names a model twice: {chain}")
        return chain

    @model_validator(mode="after")
    def _rules_complete(self) -> CascadeParams:
        self.rules()  # raises ValueError naming what is wrong
        return self

    def rules(self) -> dict[str, Rule]:
        """Item kind -> its rule."""
        steps = len(self.chain) - 1
        if isinstance(self.signal, dict):
            by_kind = self.signal
        else:  # one signal: every kind it applies to
            applies = SIGNALS[self.signal].applies_to if self.signal in SIGNALS else "multiple_choice"
            by_kind = {kind: self.signal for kind in KINDS} if applies == "any" else {applies: self.signal}
        out: dict[str, Rule] = {}
        for kind, name in by_kind.items():
            if kind not in KINDS:
                raise ValueError(f"signal: unknown item kind '{kind}' (use {' or '.join(KINDS)})")
            if name not in SIGNALS:
                raise ValueError(f"signal: unknown confidence signal '{name}' (known: {', '.join(SIGNALS)})")
            if SIGNALS[name].applies_to not in (kind, "any"):
                raise ValueError(f"signal '{name}' applies to {SIGNALS[name].applies_to} items, not {kind}")
            raw = self.threshold
            if isinstance(raw, dict):
                if name not in raw:
                    raise ValueError(f"threshold: no entry for signal '{name}'")
                raw = raw[name]
            values = [float(raw)] * steps if isinstance(raw, int | float) else [float(v) for v in raw]
            if len(values) != steps:
                raise ValueError(
                    f"threshold: give one value, or one per non-final tier ({steps} for a chain of {steps + 1})"
                )
            out[kind] = Rule(name, tuple(values))
        return out
