"""Typed rows of the run directory's record streams, read once here instead of by key in each reader.

``samples.jsonl`` is written by harness.evaluation.runner, one line per scored item; the gate
(harness.results.snapshot), the report (harness.report.samples) and the cascade replay
(harness.cascade.items) all read a line through :meth:`Sample.read`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.results.values import correct_value, finite_or_none, text


@dataclass(frozen=True)
class Sample:
    """One scored item of one (model, profile) cell; ``correct`` None where the metric is not 0/1."""

    model: str
    profile: str
    task: str
    doc_id: str
    filter: str
    prompt: Any
    response: Any
    target: Any
    correct: bool | None
    score: float | None
    latency_s: float | None

    @classmethod
    def read(cls, record: Mapping[str, Any]) -> Sample:
        """A samples.jsonl line as a typed row; missing fields read as empty or None."""
        return cls(
            model=text(record.get("model")),
            profile=text(record.get("profile")),
            task=text(record.get("task")),
            doc_id=text(record.get("doc_id")),
            filter=text(record.get("filter")),
            prompt=record.get("prompt"),
            response=record.get("response"),
            target=record.get("target"),
            correct=correct_value(record.get("correct")),
            score=finite_or_none(record.get("score")),
            latency_s=finite_or_none(record.get("latency_s")),
        )

    def outcome(self) -> tuple[float, bool] | None:
        """What the gate pairs: 1/0 where the item is right or wrong, else its score (binary flag second)."""
        if self.correct is not None:
            return float(self.correct), True
        return None if self.score is None else (self.score, False)
