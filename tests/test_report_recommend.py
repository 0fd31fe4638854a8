"""The recommendation: a pure function over cell views, so every rule is checked on hand-made cells."""

from __future__ import annotations

from harness.config.suite import Constraints
from harness.report.cellview import CellView, Estimate
from harness.report.recommend import check_cell, recommend


def cell(
    model: str,
    tier: str,
    *,
    acc: float | None = 0.6,
    acc_ci: float = 0.02,
    p95: float | None = 1.0,
    mem: float | None = 500.0,
    cost: float | None = 0.1,
    status: str = "ok",
    profile: str = "laptop",
    items: int = 500,
    fit: bool | None = True,
) -> CellView:
    def est(value: float | None, half: float | None = None, why: str = "not measured") -> Estimate:
        if value is None:
            return Estimate(None, missing=why)
        return Estimate(value, value - half, value + half) if half is not None else Estimate(value)

    return CellView(
        model=model,
        tier=tier,
        backend="llamacpp",
        profile=profile,
        status=status,
        reason="boom" if status != "ok" else "",
        emulated_on="",
        energy_source="estimate",
        metrics={
            "accuracy": est(acc, acc_ci),
            "p95_e2e_s": est(p95, 0.05),
            "p95_ttft_s": est(None),
            "peak_rss_mb": est(mem),
            "energy_per_request_j": est(1.0),
            "cost_per_1k_requests_usd": est(cost),
        },
        tasks_scored=3,
        tasks_total=3,
        items=items,
        fit=fit,
    )


TIERS = [
    cell("nano", "nano", acc=0.45, p95=0.4, mem=200, cost=0.01),
    cell("mini", "mini", acc=0.62, p95=0.9, mem=400, cost=0.03),
    cell("full", "full", acc=0.85, p95=2.5, mem=30, cost=1.5),
]


def test_cheapest_tier_meeting_every_constraint_with_runner_up() -> None:
    (rec,) = recommend(TIERS, Constraints(min_accuracy=0.5, max_p95_e2e_s=3.0, objective="cheapest"))
    assert rec.choice is not None and rec.choice.model == "mini"
    assert "lowest cost per 1k requests" in rec.reason
    assert rec.runner_up is not None and rec.runner_up.model == "full"
    assert "also meets every constraint" in rec.runner_up_reason
    nano = next(c for c in rec.candidates if c.cell.model == "nano")
    assert not nano.eligible and "Accuracy 45.0% < 50.0%" in nano.misses[0].detail


def test_fastest_and_most_accurate_objectives() -> None:
    fastest = recommend(TIERS, Constraints(min_accuracy=0.5, objective="fastest"))[0]
    assert fastest.choice is not None and fastest.choice.model == "mini"
    accurate = recommend(TIERS, Constraints(objective="most_accurate"))[0]
    assert accurate.choice is not None and accurate.choice.model == "full"
    assert accurate.runner_up is not None and accurate.runner_up.model == "mini"


def test_no_tier_meets_the_constraints_names_the_closest_miss() -> None:
    (rec,) = recommend(TIERS, Constraints(min_accuracy=0.9, max_p95_e2e_s=1.0))
    assert rec.choice is None and rec.confidence == "none"
    assert "No tier meets the constraints" in rec.reason
    # mini misses only the accuracy floor, by less than nano does; full misses two constraints
    assert rec.runner_up is not None and rec.runner_up.model == "mini"
    assert "Accuracy 62.0% < 90.0%" in rec.runner_up_reason


def test_failed_unfit_and_unmeasured_cells_are_never_recommended() -> None:
    cells = [
        cell("nano", "nano", status="failed"),
        cell("mini", "mini", fit=False),
        cell("full", "full", acc=None),
    ]
    (rec,) = recommend(cells, Constraints(min_accuracy=0.3))
    assert rec.choice is None
    checks = {c.cell.model: c.checks for c in rec.candidates}
    assert checks["nano"][0].name == "ran" and checks["nano"][0].ok is False
    assert any(c.name == "fits the profile" and c.ok is False for c in checks["mini"])
    unknown = [c for c in checks["full"] if c.ok is None]
    assert unknown and "cannot be verified" in unknown[0].detail


def test_missing_costs_rank_by_tier_size_and_say_so() -> None:
    cells = [cell("mini", "mini", cost=None), cell("nano", "nano", cost=None)]
    (rec,) = recommend(cells, Constraints())
    assert rec.choice is not None and rec.choice.model == "nano"
    assert "tier size stands in for cost" in rec.reason


def test_confidence_drops_when_the_interval_crosses_the_floor() -> None:
    sure = recommend([cell("mini", "mini", acc=0.7, acc_ci=0.02)], Constraints(min_accuracy=0.5))[0]
    assert sure.confidence == "high", sure.confidence_notes
    shaky = recommend([cell("mini", "mini", acc=0.52, acc_ci=0.05, items=20)], Constraints(min_accuracy=0.5))[0]
    assert shaky.confidence == "low"
    assert any("reaches below" in n for n in shaky.confidence_notes)
    assert any("20 items" in n for n in shaky.confidence_notes)


def test_one_recommendation_per_profile() -> None:
    cells = [*TIERS, cell("nano", "nano", profile="edge", mem=200), cell("mini", "mini", profile="edge", mem=900)]
    recs = recommend(cells, Constraints(max_memory_mb=512))
    assert [r.profile for r in recs] == ["laptop", "edge"]
    edge = recs[1]
    assert edge.choice is not None and edge.choice.model == "nano"
    assert edge.runner_up is not None and "Peak memory 900 MB > 512 MB" in edge.runner_up_reason


def test_check_cell_reports_each_set_constraint() -> None:
    checks = check_cell(TIERS[0], Constraints(min_accuracy=0.4, max_p95_e2e_s=0.5, max_memory_mb=100))
    assert [(c.name, c.ok) for c in checks] == [
        ("accuracy floor", True),
        ("p95 latency SLO", True),
        ("memory budget", False),
    ]


def test_a_task_at_zero_or_full_marks_still_widens_the_combined_accuracy_interval() -> None:
    """0/20, 0/20 and 20/20 have a sample sd of 0 but Wilson intervals of 0-16% and 84-100%: the
    combined interval of their mean must not collapse to a point (a ladder rung once showed ±0.0)."""
    from harness.evaluation.stats import mean_estimate
    from harness.report.cellview import TaskScore
    from harness.report.figures import _accuracy

    def score(task: str, values: list[float]) -> TaskScore:
        est = mean_estimate(values)
        return TaskScore(
            "m",
            "mini",
            "host",
            task,
            "exact_match",
            est.value,
            est.stderr,
            est.ci_low,
            est.ci_high,
            est.n,
            "ok",
            "",
            True,
        )

    scores = [score("a", [0.0] * 20), score("b", [0.0] * 20), score("c", [1.0] * 20)]
    estimate, scored, total, items = _accuracy({"model": "m", "profile": "host", "status": "ok"}, scores, 3)
    assert (scored, total, items) == (3, 3, 60)
    assert estimate.value is not None and abs(estimate.value - 1 / 3) < 1e-9
    assert estimate.low is not None and estimate.high is not None
    # each task's implied standard error is its Wilson width / (2 z) = 0.161 / 3.92, about 0.041
    assert 0.035 < (estimate.high - estimate.low) / 2 < 0.06
