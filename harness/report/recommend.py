"""Which tier to run on each profile: the best by the user's objective that meets every constraint, with its
reason, a runner-up (or the closest miss) and a confidence from the intervals; pure, so tested without a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.config.models import TIER_ORDER
from harness.config.suite import Constraints
from harness.meters.contention import CONTENDED_SHARE
from harness.report.cellview import CellView
from harness.report.formatting import fmt
from harness.report.metrics import ACCURACY, COST, MEMORY, P95_E2E, P95_TTFT, MetricInfo

FEW_ITEMS = 100
VERY_FEW_ITEMS = 30


@dataclass(frozen=True)
class Check:
    """One constraint applied to one cell. ``ok`` is None when the figure is missing."""

    name: str
    ok: bool | None
    detail: str
    shortfall: float = 0.0


@dataclass(frozen=True)
class Candidate:
    cell: CellView
    checks: list[Check]

    @property
    def eligible(self) -> bool:
        return all(c.ok is True for c in self.checks)

    @property
    def misses(self) -> list[Check]:
        return [c for c in self.checks if c.ok is not True]


@dataclass(frozen=True)
class Recommendation:
    profile: str
    choice: CellView | None
    reason: str
    runner_up: CellView | None
    runner_up_reason: str
    confidence: str
    confidence_notes: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


# (constraint field, its title in report.html, its symbol in report.md, metric, "min" or "max" the limit is)
LIMITS: tuple[tuple[str, str, str, MetricInfo, str], ...] = (
    ("min_accuracy", "Accuracy floor", "accuracy ≥", ACCURACY, "min"),
    ("max_p95_e2e_s", "p95 latency SLO", "p95 E2E ≤", P95_E2E, "max"),
    ("max_p95_ttft_s", "p95 TTFT SLO", "p95 TTFT ≤", P95_TTFT, "max"),
    ("max_memory_mb", "Memory budget", "memory ≤", MEMORY, "max"),
)


def check_cell(cell: CellView, constraints: Constraints) -> list[Check]:
    """Every constraint that applies to ``cell``, each with a verdict and a one-line detail."""
    if not cell.ran:
        return [Check("ran", False, f"{cell.status.replace('_', ' ')}: {cell.reason or 'no reason recorded'}", 1.0)]
    checks: list[Check] = []
    if cell.fit is False:
        checks.append(Check("fits the profile", False, cell.fit_reason or "does not fit the profile", 1.0))
    for name, title, _, metric, direction in LIMITS:
        limit = getattr(constraints, name)
        if limit is None:
            continue
        est = cell.get(metric.key)
        label = title[0].lower() + title[1:]  # in a sentence: "the accuracy floor", "the p95 latency SLO"
        if est.value is None:
            checks.append(
                Check(label, None, f"{metric.label} unknown ({est.missing}), so the {label} cannot be verified", 1.0)
            )
            continue
        ok = est.value >= limit if direction == "min" else est.value <= limit
        sign = (">=" if ok else "<") if direction == "min" else ("<=" if ok else ">")
        detail = f"{metric.label} {fmt(est.value, metric.kind)} {sign} {fmt(limit, metric.kind)}"
        checks.append(Check(label, ok, detail, 0.0 if ok else abs(est.value - limit) / abs(limit)))
    return checks


def _objective(objective: str, cells: Sequence[CellView]) -> tuple[MetricInfo | None, str]:
    """The metric to rank by and a phrase naming it; tier size when costs are unknown."""
    if objective == "fastest":
        return P95_E2E, "the lowest p95 end-to-end latency"
    if objective == "most_accurate":
        return ACCURACY, "the highest accuracy"
    if any(c.get(COST.key).known for c in cells):
        return COST, "the lowest cost per 1k requests"
    return None, "the smallest tier (no cost figures in this run, so tier size stands in for cost)"


def _rank_key(cell: CellView, metric: MetricInfo | None) -> tuple[float, float, float, str]:
    tier = float(TIER_ORDER.get(cell.tier, 9))
    accuracy = cell.get(ACCURACY.key).value
    acc_key = -(accuracy if accuracy is not None else -1.0)
    if metric is None:
        return (tier, acc_key, 0.0, cell.model)
    value = cell.get(metric.key).value
    if value is None:
        return (float("inf"), tier, acc_key, cell.model)
    return (-value if metric.higher_is_better else value, tier, acc_key, cell.model)


def _miss_key(candidate: Candidate) -> tuple[int, float, int]:
    misses = candidate.misses
    return (len(misses), sum(c.shortfall for c in misses), TIER_ORDER.get(candidate.cell.tier, 9))


def _summary(cell: CellView, metric: MetricInfo | None) -> str:
    shown = [m for m in dict.fromkeys((metric, ACCURACY, P95_E2E, MEMORY)) if m is not None and cell.get(m.key).known]
    return ", ".join(f"{m.label} {fmt(cell.get(m.key).value, m.kind)}" for m in shown)


def _name(cell: CellView) -> str:
    return cell.model if cell.model == cell.tier else f"{cell.model} ({cell.tier})"


def _why_not(candidate: Candidate) -> str:
    return "; ".join(c.detail for c in candidate.misses) or "meets every constraint"


def _confidence(
    choice: CellView, runner_up: CellView | None, constraints: Constraints, metric: MetricInfo | None
) -> tuple[str, list[str]]:
    notes: list[str] = []
    weak = 0

    def doubt(note: str, weight: int = 1) -> None:
        nonlocal weak
        notes.append(note)
        weak += weight

    acc = choice.get(ACCURACY.key)
    if constraints.min_accuracy is not None and acc.value is not None:
        if acc.low is None:
            doubt("accuracy has no confidence interval (no standard errors recorded)")
        elif acc.low < constraints.min_accuracy:
            doubt(
                f"accuracy meets the floor on the point estimate, but its 95% CI "
                f"({fmt(acc.low, 'percent')}–{fmt(acc.high, 'percent')}) reaches below "
                f"{fmt(constraints.min_accuracy, 'percent')}"
            )
        else:
            notes.append(f"accuracy clears the floor with 95% confidence (CI from {fmt(acc.low, 'percent')})")
    for name, m in (("max_p95_e2e_s", P95_E2E), ("max_p95_ttft_s", P95_TTFT)):
        limit = getattr(constraints, name)
        est = choice.get(m.key)
        if limit is None or est.value is None:
            continue
        interval = "projected range" if choice.projected_from else "95% CI"
        if est.high is None:
            doubt(f"{m.label} has no interval (too few requests)")
        elif est.high > limit:
            doubt(f"{m.label} {interval} reaches {fmt(est.high, m.kind)}, above the {fmt(limit, m.kind)} SLO")
    if choice.items and choice.items < FEW_ITEMS:
        doubt(
            f"accuracy rests on {choice.items} items; run more with a larger --limit",
            2 if choice.items < VERY_FEW_ITEMS else 1,
        )
    if choice.tasks_total and choice.tasks_scored < choice.tasks_total:
        doubt(f"accuracy covers {choice.tasks_scored} of {choice.tasks_total} tasks")
    share = choice.numbers.get("host_other_cpu_share")
    if share is not None and share > CONTENDED_SHARE:
        doubt(f"the host was contended: other processes took {share:.0%} of {choice.model}'s cores", 2)
    if choice.projected_from:
        doubt(
            f"latency, energy and cost on {choice.profile} are projected from {choice.projected_from} "
            "(roofline transfer, shown as ranges), not measured on the device",
            2,
        )
    if choice.emulated_on:
        doubt(f"{choice.profile} was emulated on {choice.emulated_on}, not measured on the device")
    if runner_up is not None and metric is not None:
        a, b = choice.get(metric.key).interval, runner_up.get(metric.key).interval
        if a and b and a[0] <= b[1] and b[0] <= a[1]:
            within = "projected ranges" if choice.projected_from else "95% CIs"
            doubt(f"{metric.label} of {choice.model} and {runner_up.model} overlap within their {within}")
    return ("high" if weak == 0 else ("medium" if weak <= 2 else "low")), notes


def recommend_profile(profile: str, cells: Sequence[CellView], constraints: Constraints) -> Recommendation:
    """The recommendation for one profile's cells."""
    candidates = [Candidate(c, check_cell(c, constraints)) for c in cells]
    eligible = [c.cell for c in candidates if c.eligible]
    metric, basis = _objective(constraints.objective, eligible or [c for c in cells if c.ran])
    ranked = sorted(eligible, key=lambda c: _rank_key(c, metric))
    misses = sorted((c for c in candidates if not c.eligible and c.cell.ran), key=_miss_key)
    if not ranked:
        if not misses:
            reason = f"No tier ran on {profile}: " + "; ".join(f"{c.cell.model} {_why_not(c)}" for c in candidates)
            return Recommendation(profile, None, reason, None, "", "none", [], candidates)
        closest = misses[0]
        reason = f"No tier meets the constraints on {profile}; the closest miss is {_name(closest.cell)}."
        return Recommendation(profile, None, reason, closest.cell, _why_not(closest), "none", [], candidates)
    choice = ranked[0]
    reason = f"{_name(choice)} has {basis} among the tiers that meet every constraint: " + _summary(choice, metric)
    if choice.projected_from:
        reason += f" (projected from {choice.projected_from}, not measured)"
    if len(ranked) > 1:
        runner, runner_reason = ranked[1], f"also meets every constraint; {_summary(ranked[1], metric)}"
    elif misses:
        runner, runner_reason = misses[0].cell, f"misses: {_why_not(misses[0])}"
    else:
        runner, runner_reason = None, "no other tier ran on this profile"
    level, notes = _confidence(choice, ranked[1] if len(ranked) > 1 else None, constraints, metric)
    return Recommendation(profile, choice, reason, runner, runner_reason, level, notes, candidates)


def recommend(cells: Sequence[CellView], constraints: Constraints) -> list[Recommendation]:
    """One recommendation per profile, in the order the profiles first appear."""
    profiles = list(dict.fromkeys(c.profile for c in cells))
    return [recommend_profile(p, [c for c in cells if c.profile == p], constraints) for p in profiles]
