"""Where each item ends up in a chain (harness/cascade/rules.py), and what that costs, for many thresholds at once.

Every tier tried is paid (FrugalGPT, AutoMix): an item's cost, energy and latency are sums over the tiers
it went through, plus the self-check of each tier consulted when the signal costs a request of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.cascade.chain import Step
from harness.cascade.items import ItemTable
from harness.cascade.rules import answering_tier


@dataclass(frozen=True)
class TierRates:
    """Per-request figures of each tier (NaN where the run did not measure them)."""

    cost_usd: np.ndarray  # (k,)
    energy_j: np.ndarray  # (k,)
    seconds: np.ndarray  # (k,) machine seconds per request, to price a self-check by its time

    @classmethod
    def of(cls, steps: list[Step]) -> TierRates:
        """The chain's figures as float arrays (numpy reads a missing figure, None, as NaN)."""
        return cls(
            np.array([s.cost_per_request_usd for s in steps], dtype=float),
            np.array([s.energy_per_request_j for s in steps], dtype=float),
            np.array([s.seconds_per_request for s in steps], dtype=float),
        )


@dataclass(frozen=True)
class Outcome:
    """Per point (m) and item (n): correctness, cost, latency, energy, and which tiers were reached."""

    correct: np.ndarray  # float (m, n)
    cost_usd: np.ndarray  # (m, n)
    latency_s: np.ndarray  # (m, n)
    energy_j: np.ndarray  # (m, n)
    reached: np.ndarray  # bool (m, n, k)


def thresholds_at(levels: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per level q and escalating tier j, the q-quantile of tier j's confidence; q=0 never and q=1 always escalates."""
    k = confidence.shape[1]
    out: np.ndarray = np.quantile(confidence[:, : k - 1], np.clip(levels, 0.0, 1.0), axis=0)
    out[levels <= 0.0] = -np.inf
    out[levels >= 1.0] = np.inf
    return out


def reached(answer: np.ndarray, tiers: int) -> np.ndarray:
    """(..., tiers) bool: the first ``tiers`` tiers each item went through when tier ``answer`` answers it."""
    return np.arange(tiers) <= answer[..., None]


def outcome(items: ItemTable, answer: np.ndarray, rates: TierRates, consulted: np.ndarray | None = None) -> Outcome:
    """Figures per item when tier ``answer`` (m, n) answers; ``consulted`` (m, n, k-1) marks paid self-checks."""
    k = items.correct.shape[1]
    went = reached(answer, k)
    correct = np.take_along_axis(np.broadcast_to(items.correct, went.shape), answer[..., None], axis=-1)[..., 0]
    cost = np.where(went, rates.cost_usd, 0.0).sum(axis=-1)
    energy = np.where(went, rates.energy_j, 0.0).sum(axis=-1)
    latency = np.where(went, items.latency_s, 0.0).sum(axis=-1)
    if consulted is not None and consulted.any():
        seconds = np.where(consulted, items.check_latency_s[None, :, : k - 1], 0.0)
        latency = latency + seconds.sum(axis=-1)
        per_second_cost = rates.cost_usd[: k - 1] / rates.seconds[: k - 1]
        per_second_energy = rates.energy_j[: k - 1] / rates.seconds[: k - 1]
        cost = cost + np.where(consulted, seconds * per_second_cost, 0.0).sum(axis=-1)
        energy = energy + np.where(consulted, seconds * per_second_energy, 0.0).sum(axis=-1)
    return Outcome(correct.astype(float), cost, latency, energy, went)


def cascade_outcome(items: ItemTable, thresholds: np.ndarray, rates: TierRates, paid_check: bool) -> Outcome:
    """The chain at each row of ``thresholds``; a self-check is paid where its threshold decides anything."""
    answer = answering_tier(items.confidence, thresholds)
    consulted = None
    if paid_check:
        consulted = reached(answer, items.correct.shape[1] - 1) & np.isfinite(thresholds)[:, None, :]
    return outcome(items, answer, rates, consulted)


def oracle_outcome(items: ItemTable, rates: TierRates) -> Outcome:
    """Escalate exactly the items the cheaper tier gets wrong: the first correct tier answers (else the last)."""
    k = items.correct.shape[1]
    right = items.correct
    answer = np.where(right.any(axis=1), right.argmax(axis=1), k - 1)
    return outcome(items, answer[None, :], rates)


def single_outcome(items: ItemTable, rates: TierRates) -> Outcome:
    """Each tier alone (row j: tier j answers everything and only tier j is paid)."""
    k, n = items.correct.shape[1], items.n
    return Outcome(
        items.correct.T.astype(float),
        np.repeat(rates.cost_usd[:, None], n, axis=1),
        items.latency_s.T.copy(),
        np.repeat(rates.energy_j[:, None], n, axis=1),
        np.repeat(np.eye(k, dtype=bool)[:, None, :], n, axis=1),
    )
