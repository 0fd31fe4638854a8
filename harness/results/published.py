"""Published scores beside ours: the first thing a researcher checks.

A catalog model may carry the scores its authors published (``published:`` in the catalog; the
run's meta.json keeps every model's spec). For each one whose benchmark and metric this run
measured, the comparison gives our value with its 95% interval, the difference, and whether the
published figure lies within our interval widened by ``TOLERANCE`` (quantization and prompt-format
differences move a score by a few points; docs/tasks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.results.values import finite_or_none as _num
from harness.stats import mean_of_scores, score_standard_error

# Points (as a fraction) added on each side of our 95% interval before calling a gap a disagreement.
TOLERANCE = 0.03


@dataclass(frozen=True)
class PublishedComparison:
    model: str
    profile: str
    benchmark: str
    metric: str
    shots: int
    published: float
    measured: float
    ci_low: float | None
    ci_high: float | None
    n: int | None
    source: str
    variant: str
    precision: str
    note: str

    @property
    def difference(self) -> float:
        return self.measured - self.published

    @property
    def agrees(self) -> bool:
        """Published value inside [ci_low - TOLERANCE, ci_high + TOLERANCE]."""
        low = self.ci_low if self.ci_low is not None else self.measured
        high = self.ci_high if self.ci_high is not None else self.measured
        return low - TOLERANCE <= self.published <= high + TOLERANCE

    @property
    def verdict(self) -> str:
        return "agrees" if self.agrees else "differs"


def _measured(rows: list[pd.Series]) -> tuple[float, float | None, float | None, int | None]:
    """(value, ci_low, ci_high, n) of one task's row, or of the unweighted mean of several tasks' rows."""
    counts = [c for c in (_num(r.get("n")) for r in rows) if c is not None]
    n_total = int(sum(counts)) if len(counts) == len(rows) else None
    if len(rows) == 1:
        row = rows[0]
        return float(row["value"]), _num(row.get("ci_low")), _num(row.get("ci_high")), n_total
    values = [float(r["value"]) for r in rows]
    errors = [
        score_standard_error(_num(r.get("stderr")), _num(r.get("ci_low")), _num(r.get("ci_high")), v, _num(r.get("n")))
        for r, v in zip(rows, values, strict=True)
    ]
    return *mean_of_scores(values, errors), n_total


def compare_published(meta: dict[str, Any], scores: pd.DataFrame) -> list[PublishedComparison]:
    """Every published score of the run's models that this run measured, beside our value; a figure
    published as the mean of several tasks only where the run measured all of them (their unweighted
    mean, its interval from the tasks' standard errors)."""
    if scores.empty:
        return []
    ok = scores[(scores["status"].fillna("ok") == "ok") & scores["value"].notna()]
    out: list[PublishedComparison] = []
    for spec in meta.get("models") or []:
        for pub in spec.get("published") or []:
            tasks = [pub["benchmark"]] if isinstance(pub["benchmark"], str) else list(pub["benchmark"])
            mine = ok[(ok["model"] == spec.get("name")) & (ok["metric"] == pub["metric"]) & ok["task"].isin(tasks)]
            for profile, group in mine.groupby("profile", sort=False):
                rows = [group[group["task"] == task].iloc[0] for task in tasks if (group["task"] == task).any()]
                if len(rows) != len(tasks):
                    continue  # a mean over tasks the run did not all measure is not that figure
                value, low, high, n = _measured(rows)
                out.append(
                    PublishedComparison(
                        model=str(spec.get("name")),
                        profile=str(profile),
                        benchmark=" + ".join(tasks) + (" (mean)" if len(tasks) > 1 else ""),
                        metric=str(pub["metric"]),
                        shots=int(pub.get("shots") or 0),
                        published=float(pub["value"]),
                        measured=value,
                        ci_low=low,
                        ci_high=high,
                        n=n,
                        source=str(pub.get("source") or ""),
                        variant=str(pub.get("variant") or ""),
                        precision=str(pub.get("precision") or "") or "not stated",
                        note=str(pub.get("note") or ""),
                    )
                )
    return out


def comparison_lines(rows: list[PublishedComparison]) -> list[str]:
    """One plain line per comparison, for terminals and Markdown lists."""
    lines = []
    for r in rows:
        interval = (
            f" [{r.ci_low * 100:.1f}–{r.ci_high * 100:.1f}]" if r.ci_low is not None and r.ci_high is not None else ""
        )
        lines.append(
            f"{r.model}@{r.profile} {r.benchmark} {r.metric}: measured {r.measured * 100:.1f}{interval} "
            f"(n={r.n}) vs published {r.published * 100:.1f} ({r.shots}-shot, {r.variant}; {r.source}): "
            f"{r.difference * 100:+.1f} pts, {r.verdict} within our 95% CI ± {TOLERANCE * 100:.0f} pts"
            + (f" — {r.note}" if r.note else "")
        )
    return lines
