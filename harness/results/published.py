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


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def compare_published(meta: dict[str, Any], scores: pd.DataFrame) -> list[PublishedComparison]:
    """Every published score of the run's models that this run measured, beside our value."""
    if scores.empty:
        return []
    ok = scores[(scores["status"].fillna("ok") == "ok") & scores["value"].notna()]
    out: list[PublishedComparison] = []
    models = meta.get("models") or []
    if isinstance(models, dict):  # older runs keep {name: spec}
        models = [{"name": name, **spec} for name, spec in models.items() if isinstance(spec, dict)]
    for spec in models:
        for pub in spec.get("published") or []:
            mine = ok[
                (ok["model"] == spec.get("name")) & (ok["task"] == pub["benchmark"]) & (ok["metric"] == pub["metric"])
            ]
            for _, row in mine.iterrows():
                n = _num(row.get("n"))
                out.append(
                    PublishedComparison(
                        model=str(row["model"]),
                        profile=str(row["profile"]),
                        benchmark=str(pub["benchmark"]),
                        metric=str(pub["metric"]),
                        shots=int(pub.get("shots") or 0),
                        published=float(pub["value"]),
                        measured=float(row["value"]),
                        ci_low=_num(row.get("ci_low")),
                        ci_high=_num(row.get("ci_high")),
                        n=int(n) if n is not None else None,
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
