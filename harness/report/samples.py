"""Per-item samples, streamed: a bounded first page per task and counts, so the report stays small
however large the run (100k items); paired comparisons read items through harness.results.snapshot."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.report.formatting import text
from harness.results.files import is_run_file
from harness.results.rows import Sample

PER_TASK = 50
MAX_SHOWN = 1500
MAX_CHARS = 1200


@dataclass
class SamplePage:
    rows: list[Sample] = field(default_factory=list)
    total: int = 0
    per_group: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    torn_lines: int = 0
    # distinct items per (model, profile, task), and of them those that ran out of tokens while reasoning
    items: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    truncated: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def truncation(self, model: str, profile: str, task: str | None = None) -> tuple[int, int]:
        """(items that ran out of tokens while reasoning, items) of one task (None: every task) of a cell."""
        keys = [k for k in self.items if k[:2] == (model, profile) and (task is None or k[2] == task)]
        return sum(self.truncated[k] for k in keys), sum(self.items[k] for k in keys)

    def truncation_text(self, model: str, profile: str, task: str | None = None) -> str:
        """ "12 of 200 items ran out of tokens while reasoning", or "" when none did."""
        cut, items = self.truncation(model, profile, task)
        return f"{cut} of {items} items ran out of tokens while reasoning" if cut else ""


def _short(value: Any, limit: int = MAX_CHARS) -> str:
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    body = text(value)
    if len(body) > limit:
        return body[:limit] + f"… [{len(body) - limit:,} more characters in samples.jsonl]"
    return body


def read_samples(path: Path) -> SamplePage:
    """Stream ``samples.jsonl``: keep the first ``PER_TASK`` items of each (model, profile, task)."""
    page = SamplePage()
    seen: set[tuple[str, str, str, str]] = set()
    if not is_run_file(path, "a JSONL file"):  # a directory or FIFO there is one line, not a hang
        return page
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # torn, or nested absurdly deep
                record = None
            if not isinstance(record, dict):
                page.torn_lines += 1
                continue
            sample = Sample.read(record)
            group = (sample.model, sample.profile, sample.task)
            page.total += 1
            page.per_group[group] += 1
            if (item := (*group, str(sample.doc_id))) not in seen:  # each filter of a task logs the item again
                seen.add(item)
                page.items[group] += 1
                page.truncated[group] += sample.truncated_reasoning
            if page.per_group[group] <= PER_TASK and len(page.rows) < MAX_SHOWN:
                page.rows.append(
                    replace(
                        sample,
                        doc_id=_short(sample.doc_id, 80),
                        prompt=_short(sample.prompt),
                        response=_short(sample.response),
                        target=_short(sample.target, 300),
                    )
                )
    return page
