"""A live cascade cell (backend ``cascade``) beside the replay's prediction at the same threshold.

The live cell served every item through its chain in one process; the replay predicts what it
should have measured from the chain tiers' own samples. Both are figured on the same items: the
ones the live cell and every chain tier answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.cascade.chain import CASCADE_BACKEND, RAN, Step, resolve_chain
from harness.cascade.items import correct_value, item_key, join_items, samples_by_cell
from harness.cascade.routing import TierRates, cascade_outcome
from harness.errors import UserError
from harness.results import RunStore
from harness.results.signals import SIGNALS
from harness.results.values import finite_or_none

CASCADE_TIER_FIELD = "cascade_tier"


@dataclass(frozen=True)
class LiveComparison:
    """Measured (live) and predicted (replayed) figures of one live cascade cell, or why there are none."""

    model: str
    profile: str
    chain: list[str]
    signal: str
    threshold: str
    items: int = 0
    live: dict[str, float | None] = field(default_factory=dict)
    replayed: dict[str, float | None] = field(default_factory=dict)
    note: str = ""


def _spec(meta: dict[str, Any], model: str) -> dict[str, Any]:
    models = meta.get("models")
    entries = models.values() if isinstance(models, dict) else models if isinstance(models, list) else []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == model:
            params = entry.get("params")
            return params if isinstance(params, dict) else {}
    return {}


def _thresholds(raw: Any, k: int) -> np.ndarray | None:
    values = raw if isinstance(raw, list) else [raw] * (k - 1)
    numbers = [finite_or_none(v) for v in values]
    if len(numbers) != k - 1 or any(v is None for v in numbers):
        return None
    return np.array([numbers], dtype=float)


def _p95(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, 95)) if finite.size == finite.shape[0] == values.size and values.size else None


def compare_cell(
    row: dict[str, Any], meta: dict[str, Any], cells: pd.DataFrame, records: list[dict[str, Any]]
) -> LiveComparison:
    model, profile = str(row.get("model")), str(row.get("profile"))
    params = _spec(meta, model)
    chain = [str(name) for name in params.get("chain") or []]
    signal = str(params.get("signal") or "")
    base = LiveComparison(model, profile, chain, signal, str(params.get("threshold")))
    if len(chain) < 2 or signal not in SIGNALS:
        return _note(base, f"meta.json has no usable chain/signal for {model} (chain {chain}, signal {signal!r})")
    thresholds = _thresholds(params.get("threshold"), len(chain))
    if thresholds is None:
        return _note(base, f"meta.json: threshold {params.get('threshold')!r} of {model} is not one number per tier")
    try:
        steps: list[Step] = resolve_chain([(name, profile) for name in chain], cells)
    except UserError as exc:
        return _note(base, f"the chain's tiers are not all in this run: {exc}")
    live = {item_key(r): r for r in records if r.get("model") == model and r.get("profile") == profile}
    by_cell = samples_by_cell(records, steps)
    for key in by_cell:
        by_cell[key] = {item: rec for item, rec in by_cell[key].items() if item in live}
    try:
        items = join_items(by_cell, steps, signal, "samples.jsonl")
    except UserError as exc:
        return _note(base, str(exc))
    out = cascade_outcome(items, thresholds, TierRates.of(steps), SIGNALS[signal].extra_cost)
    answered = [live[key] for key in items.keys]
    correct = np.array([correct_value(r.get("correct")) is True for r in answered])
    tier_of = [str(r.get(CASCADE_TIER_FIELD) or "") for r in answered]
    latency = np.array([finite_or_none(r.get("latency_s")) or np.nan for r in answered], dtype=float)
    cost = finite_or_none(row.get("cost_per_1k_requests_usd"))
    measured = {
        "accuracy": float(correct.mean()),
        "escalation": float(np.mean([t != chain[0] for t in tier_of])) if all(tier_of) else None,
        "latency_p95_s": _p95(latency),
        "cost_per_1k_usd": cost,
    }
    predicted = {
        "accuracy": float(out.correct.mean()),
        "escalation": float(out.reached[0, :, 1].mean()),
        "latency_p95_s": _p95(out.latency_s[0]),
        "cost_per_1k_usd": finite_or_none(1000.0 * out.cost_usd.mean()),
    }
    excluded = sum(items.excluded.values())
    note = (
        f"{excluded} item(s) of the live cell left out: " + "; ".join(f"{n} {why}" for why, n in items.excluded.items())
        if excluded
        else ""
    )
    return LiveComparison(model, profile, chain, signal, base.threshold, items.n, measured, predicted, note)


def _note(base: LiveComparison, note: str) -> LiveComparison:
    return LiveComparison(base.model, base.profile, base.chain, base.signal, base.threshold, note=note)


def live_comparisons(run_dir: Path) -> list[LiveComparison]:
    """One comparison per live cascade cell that ran (none when the run has no such cell)."""
    store = RunStore.open(run_dir)
    cells = store.read_table("cells")
    if cells.empty or "backend" not in cells.columns:
        return []
    rows = [
        dict(zip(cells.columns, r, strict=True))
        for r in cells.itertuples(index=False, name=None)
        if dict(zip(cells.columns, r, strict=True)).get("backend") == CASCADE_BACKEND
    ]
    rows = [r for r in rows if (r.get("status") or "ok") in RAN]
    if not rows:
        return []
    meta, records = store.read_meta(), store.read_samples()
    return [compare_cell(r, meta, cells, records) for r in rows]
