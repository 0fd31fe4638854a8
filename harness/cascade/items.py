"""The items every tier of a chain answered, as aligned arrays, and why the others were left out.

Samples are joined on (task, doc_id, filter). An item leaves the replay, counted by reason, when
a tier of the chain did not answer it, has no correctness for it, or (for any tier but the last,
which always answers) has no value of the chosen signal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.cascade.chain import Step
from harness.errors import UserError
from harness.results.rows import Sample
from harness.results.signals import CONFIDENCE_FIELD, SELF_CHECK_COST_FIELDS, SIGNALS
from harness.results.values import finite_or_none, text

ItemKey = tuple[str, str, str]  # task, doc_id, filter
ByCell = dict[tuple[str, str], dict[ItemKey, dict[str, Any]]]  # (model, profile) -> item -> its sample record
MIN_ITEMS = 4


@dataclass
class ItemTable:
    """Per-item arrays, one column per chain tier (``n`` items x ``k`` tiers)."""

    keys: list[ItemKey]
    correct: np.ndarray  # bool (n, k)
    confidence: np.ndarray  # float (n, k); the last tier's column may be NaN: it always answers
    latency_s: np.ndarray  # float (n, k); NaN where a sample has no latency
    check_latency_s: np.ndarray  # float (n, k); self-check seconds, 0 where none was asked
    excluded: Counter[str] = field(default_factory=Counter)

    @property
    def n(self) -> int:
        return len(self.keys)

    @property
    def tasks(self) -> np.ndarray:
        return np.array([k[0] for k in self.keys], dtype=object)

    def subset(self, rows: np.ndarray) -> ItemTable:
        return ItemTable(
            [self.keys[i] for i in rows],
            self.correct[rows],
            self.confidence[rows],
            self.latency_s[rows],
            self.check_latency_s[rows],
            Counter(self.excluded),
        )


def item_key(record: dict[str, Any]) -> ItemKey:
    return (text(record.get("task")), text(record.get("doc_id")), text(record.get("filter")))


def samples_by_cell(records: Iterable[dict[str, Any]], steps: list[Step]) -> ByCell:
    """Each chain cell's samples by item key (the last record of an item wins, as a resumed run appends)."""
    wanted = {s.key for s in steps}
    out: ByCell = {key: {} for key in wanted}
    for record in records:
        cell = (text(record.get("model")), text(record.get("profile")))
        if cell in wanted:
            out[cell][item_key(record)] = record
    return out


def check_signal(signal: str | None, by_cell: ByCell, steps: list[Step], where: str) -> str:
    """The signal to replay with: the one asked for, or the one most items of the escalating tiers carry."""
    if signal is not None and signal not in SIGNALS:
        raise UserError(f"--signal {signal!r}: no such confidence signal; known: {', '.join(SIGNALS)}")
    coverage: Counter[str] = Counter()
    for step in steps[:-1]:
        samples = by_cell[step.key]
        if not samples:
            raise UserError(f"{where}: no samples of {step.model} on {step.profile}; it scored no items")
        if not any(isinstance(r.get(CONFIDENCE_FIELD), dict) for r in samples.values()):
            raise UserError(
                f"{where}: samples of {step.model} on {step.profile} carry no confidence (a run from an older "
                "tierbench); re-run it with this version to replay a cascade"
            )
        counts: Counter[str] = Counter()  # samples with a number for each signal
        for record in samples.values():
            conf = record.get(CONFIDENCE_FIELD)
            if isinstance(conf, dict):
                counts.update(name for name, value in conf.items() if finite_or_none(value) is not None)
        present = [name for name in SIGNALS if name in counts] + sorted(set(counts) - set(SIGNALS))
        if signal is not None and signal not in present:
            listed = ", ".join(present) or "none"
            raise UserError(
                f"--signal {signal}: samples of {step.model} on {step.profile} have no {signal!r} values "
                f"(they have: {listed})"
            )
        coverage.update({name: counts[name] for name in present})  # in this order: max() breaks ties by it
    if signal is not None:
        return signal
    free = [name for name in coverage if not (name in SIGNALS and SIGNALS[name].extra_cost)]
    candidates = free or list(coverage)
    if not candidates:
        raise UserError(f"{where}: the chain's samples carry no confidence values; pass --signal")
    return max(candidates, key=lambda name: coverage[name])


def confidence_of(record: dict[str, Any], signal: str) -> float | None:
    """A sample's value of one confidence signal (None when it has none)."""
    conf = record.get(CONFIDENCE_FIELD)
    return finite_or_none(conf.get(signal)) if isinstance(conf, dict) else None


def join_items(by_cell: ByCell, steps: list[Step], signal: str | None, where: str) -> ItemTable:
    """Aligned arrays of the items every tier answered; the rest counted by reason in ``excluded``.

    With ``signal`` None no item is left out for want of a signal (confidence is then all NaN).
    """
    excluded: Counter[str] = Counter()
    keys: list[ItemKey] = []
    rows: list[tuple[list[bool], list[float | None], list[float | None], list[float]]] = []  # None: NaN
    uses_check = signal is not None and signal in SIGNALS and SIGNALS[signal].extra_cost
    for key in dict.fromkeys(item for step in steps for item in by_cell[step.key]):
        records = [by_cell[step.key].get(key) for step in steps]
        missing = [steps[i].model for i, r in enumerate(records) if r is None]
        if missing:
            excluded[f"not answered by {', '.join(missing)}"] += 1
            continue
        present = [r for r in records if r is not None]
        samples = [Sample.read(r) for r in present]
        correct = [sample.correct for sample in samples]
        if any(c is None for c in correct):
            excluded["no correctness recorded"] += 1
            continue
        conf = [confidence_of(r, signal) if signal is not None else None for r in present]
        if signal is not None and any(c is None for c in conf[:-1]):
            excluded[f"no {signal} value"] += 1
            continue
        check = [(finite_or_none(r.get(SELF_CHECK_COST_FIELDS[0])) or 0.0) if uses_check else 0.0 for r in present]
        keys.append(key)
        rows.append(([bool(c) for c in correct], conf, [sample.latency_s for sample in samples], check))
    if len(keys) < MIN_ITEMS:
        why = "; ".join(f"{n} {reason}" for reason, n in excluded.most_common()) or "no samples"
        raise UserError(f"{where}: only {len(keys)} item(s) answered by every tier of the chain ({why})")
    columns = [np.array(column, dtype=float) for column in zip(*rows, strict=True)]
    return ItemTable(keys, columns[0].astype(bool), columns[1], columns[2], columns[3], excluded)
