"""Which threshold to report, and whether the cascade beats every single tier under the suite's constraints.

The threshold is chosen on the fit half: among the sweep's points that meet the accuracy target
(the suite's floor, or the last tier's own accuracy when the suite sets none) and the latency SLO,
the best by the suite's objective. Whether that point beats the single tiers is then judged on
the held-out half only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import isfinite
from typing import Any

import numpy as np

from harness.config.suite import Constraints

_EPS = 1e-12


@dataclass(frozen=True)
class Goal:
    """What the suite asks of any option: an accuracy floor, a p95 latency SLO and an objective."""

    min_accuracy: float | None = None
    max_p95_s: float | None = None
    objective: str = "cheapest"

    @classmethod
    def of(cls, constraints: Constraints) -> Goal:
        return cls(constraints.min_accuracy, constraints.max_p95_e2e_s, constraints.objective)

    @classmethod
    def from_suite(cls, suite: dict[str, Any]) -> Goal:
        """The constraints of the suite recorded in meta.json (defaults when absent or invalid)."""
        raw = suite.get("constraints")
        try:
            return cls.of(Constraints.model_validate(raw)) if isinstance(raw, dict) else cls()
        except ValueError:
            return cls()


def _objective_key(objective: str, acc: float, cost: float, p95: float, share: float) -> tuple[float, float]:
    cost_key = cost if isfinite(cost) else share  # strong-call share stands in for an unknown cost
    if objective == "fastest":
        return (p95 if isfinite(p95) else math.inf, cost_key)
    if objective == "most_accurate":
        return (-acc, cost_key)
    return (cost_key, -acc)


def choose_point(point: dict[str, np.ndarray], strong_accuracy: float, goal: Goal, k: int) -> tuple[int, str]:
    """Index of the chosen curve point (figures measured on the fit half) and how it was chosen."""
    acc, cost = point["accuracy"].tolist(), point["cost_per_1k_usd"].tolist()
    p95, share = point["latency_p95_s"].tolist(), point[f"reach_{k - 1}"].tolist()
    target = goal.min_accuracy if goal.min_accuracy is not None else strong_accuracy
    what = "the suite's accuracy floor" if goal.min_accuracy is not None else "the last tier's own accuracy"
    ok = [a >= target - _EPS for a in acc]
    if goal.max_p95_s is not None:
        ok = [fine and isfinite(p) and p <= goal.max_p95_s for fine, p in zip(ok, p95, strict=True)]
    feasible = [i for i, fine in enumerate(ok) if fine]
    objective = goal.objective if feasible else "most_accurate"
    best = min(feasible or range(len(acc)), key=lambda i: _objective_key(objective, acc[i], cost[i], p95[i], share[i]))
    if feasible:
        return best, f"the {objective.replace('_', ' ')} threshold on the fit half that reaches {what} ({target:.1%})"
    return best, f"no threshold reaches {what} ({target:.1%}) on the fit half; the most accurate one is shown"


@dataclass(frozen=True)
class Option:
    """One way to serve the items (a single tier or the cascade), measured on the held-out half."""

    name: str
    accuracy: float
    cost_per_1k_usd: float
    latency_p95_s: float


def _misses(option: Option, goal: Goal) -> list[str]:
    out = []
    if goal.min_accuracy is not None and option.accuracy < goal.min_accuracy - _EPS:
        out.append(f"accuracy {option.accuracy:.1%} < floor {goal.min_accuracy:.1%}")
    if goal.max_p95_s is not None and not (isfinite(option.latency_p95_s) and option.latency_p95_s <= goal.max_p95_s):
        out.append(f"p95 latency {_seconds(option.latency_p95_s)} > SLO {_seconds(goal.max_p95_s)}")
    return out


def _seconds(value: float) -> str:
    if not isfinite(value):
        return "unknown"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2g} s" if value < 10 else f"{value:.0f} s"


def _better(goal: Goal, a: Option, b: Option) -> bool:
    """Whether ``a`` is strictly better than ``b`` on the objective."""
    if goal.objective == "fastest":
        return isfinite(a.latency_p95_s) and (not isfinite(b.latency_p95_s) or a.latency_p95_s < b.latency_p95_s)
    if goal.objective == "most_accurate":
        return a.accuracy > b.accuracy + _EPS
    return isfinite(a.cost_per_1k_usd) and isfinite(b.cost_per_1k_usd) and a.cost_per_1k_usd < b.cost_per_1k_usd


def recommendation(chain: str, threshold: str, cascade: Option, tiers: list[Option], goal: Goal) -> tuple[bool, str]:
    """(beats every single tier?, one sentence saying so or why not)."""
    strong, missed = tiers[-1], _misses(cascade, goal)
    no = f"No cascade {chain} beats every single tier under the suite's constraints"
    if missed:
        return False, f"{no}: at its chosen threshold it misses them ({'; '.join(missed)})."
    if goal.objective == "cheapest" and not (
        isfinite(cascade.cost_per_1k_usd) and all(isfinite(t.cost_per_1k_usd) for t in tiers)
    ):
        return False, f"No cascade {chain} can be judged against the single tiers: the run has no cost for every tier."
    for tier in tiers:
        if not _misses(tier, goal) and not _better(goal, cascade, tier):
            what = {"fastest": "at lower p95 latency", "most_accurate": "with at least its accuracy"}.get(
                goal.objective, "at lower cost"
            )
            return False, f"{no}: {tier.name} alone meets them {what}."
    keeps = cascade.accuracy / strong.accuracy if strong.accuracy > 0 else math.nan
    cost_share = cascade.cost_per_1k_usd / strong.cost_per_1k_usd if strong.cost_per_1k_usd > 0 else math.nan
    cost_text = f" at {cost_share:.0%} of its cost" if isfinite(cost_share) else ""
    return True, (
        f"{chain} at threshold {threshold} keeps {keeps:.0%} of {strong.name}'s accuracy{cost_text}; "
        f"p95 latency {_seconds(cascade.latency_p95_s)}."
    )
