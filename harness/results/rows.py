"""Typed rows of the run directory, read once here instead of by key in each reader."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, get_type_hints

from harness.results.values import correct_value, finite_or_none, text

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@functools.cache
def _readers(cls: type[DataclassInstance]) -> dict[str, Callable[[Any], Any]]:
    """Field name -> reader for the ``str`` and ``float | None`` fields of ``cls`` (resolved types, once per class)."""
    by_type: dict[object, Callable[[Any], Any]] = {str: text, float | None: finite_or_none}
    hints = get_type_hints(cls)
    return {f.name: read for f in fields(cls) if (read := by_type.get(hints[f.name])) is not None}


def row_fields(cls: type[DataclassInstance], record: Mapping[Any, Any]) -> dict[str, Any]:
    """Each ``str`` field of the dataclass ``cls`` read from a table row through :func:`text`, each
    ``float | None`` field through :func:`finite_or_none`."""
    return {name: read(record.get(name)) for name, read in _readers(cls).items()}


@dataclass(frozen=True)
class Sample:
    """One scored item of samples.jsonl (harness.evaluation.runner writes it; the gate, the report
    and the cascade replay read it); ``correct`` None where the metric is not 0/1."""

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
    # the model ran out of tokens while reasoning: no visible answer (scored as it stands, and counted)
    truncated_reasoning: bool = False

    @classmethod
    def read(cls, record: Mapping[str, Any]) -> Sample:
        """A samples.jsonl line as a typed row; missing fields read as empty or None."""
        return cls(
            **row_fields(cls, record),
            prompt=record.get("prompt"),
            response=record.get("response"),
            target=record.get("target"),
            correct=correct_value(record.get("correct")),
            truncated_reasoning=record.get("truncated_reasoning") is True,
        )

    def outcome(self) -> tuple[float, bool] | None:
        """What the gate pairs: 1/0 where the item is right or wrong, else its score (binary flag second)."""
        if self.correct is not None:
            return float(self.correct), True
        return None if self.score is None else (self.score, False)
