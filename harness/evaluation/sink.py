"""Where evaluation results go: the cell worker's run store, or memory in tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class EvalSink(Protocol):
    """Receives per-item samples, per-metric scores, progress, and caches LM responses for resume."""

    def sample(self, record: dict[str, Any]) -> None:
        """task, doc_id, prompt, response, target, correct, score, latency_s, prompt_tokens, output_tokens."""

    def score(self, row: dict[str, Any]) -> None:
        """task, metric, value, stderr, ci_low, ci_high, n, status ('ok'|'unsupported'|'failed'), reason."""

    def progress(self, label: str, done: int, total: int) -> None:
        """Requests done so far in the current task."""

    def cached(self, key: str) -> Any | None:
        """A stored LM response for this request key (resume), or None."""

    def store(self, key: str, value: Any) -> None:
        """Persist one LM response right after it completes."""


@dataclass
class MemorySink:
    """Keeps everything in lists and a dict."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    last_progress: dict[str, tuple[int, int]] = field(default_factory=dict)

    def sample(self, record: dict[str, Any]) -> None:
        self.samples.append(record)

    def score(self, row: dict[str, Any]) -> None:
        self.scores.append(row)

    def progress(self, label: str, done: int, total: int) -> None:
        self.last_progress[label] = (done, total)

    def cached(self, key: str) -> Any | None:
        return self.responses.get(key)

    def store(self, key: str, value: Any) -> None:
        self.responses[key] = value

    def value(self, task: str, metric: str) -> float | None:
        """The score of one metric (None if absent or not computed)."""
        value: float | None = next(
            (r["value"] for r in self.scores if (r["task"], r["metric"]) == (task, metric)), None
        )
        return value
