"""A live cascade cell (backend ``cascade``) beside the replay's prediction at the same threshold.

The replay predicts from the chain tiers' own samples what the live cell should have measured, with
the live backend's own rule (harness/cascade/rules.py; an item of a kind without a rule escalates),
on the same items: the ones the live cell and every chain tier answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.cascade.chain import CASCADE_BACKEND, RAN, Step, cell_rows, resolve_chain
from harness.cascade.items import ItemKey, confidence_of, item_key, join_items, samples_by_cell
from harness.cascade.routing import TierRates, outcome, reached
from harness.cascade.rules import CascadeParams, Rule
from harness.errors import UserError
from harness.results import RunStore
from harness.results.rows import Sample
from harness.results.schema import RunMeta
from harness.results.signals import CHOICE_LOGLIK_FIELD, SIGNALS
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


def _params(meta: RunMeta, model: str) -> dict[str, Any]:
    """The catalog params meta.json recorded for ``model`` ({} when it has none)."""
    params = next((entry.get("params") for entry in meta.models if entry.get("name") == model), None)
    return params if isinstance(params, dict) else {}


def _kind(record: dict[str, Any]) -> str:
    return "multiple_choice" if isinstance(record.get(CHOICE_LOGLIK_FIELD), list) else "generate"


def _answer(records: list[dict[str, Any]], rule: Rule | None) -> int:
    """The tier the live backend's rule picks from the tiers' recorded signals (the last without a rule)."""
    if rule is None:
        return len(records) - 1
    return rule.answer([confidence_of(record, rule.signal) for record in records])


def _p95(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 95)) if values.size and np.isfinite(values).all() else None


def compare_cell(
    row: dict[str, Any], meta: RunMeta, cells: pd.DataFrame, records: list[dict[str, Any]]
) -> LiveComparison:
    """Live figures of one cascade cell and the replay's prediction on the same items."""
    model, profile = str(row.get("model")), str(row.get("profile"))
    params = _params(meta, model)
    chain = [str(name) for name in params.get("chain") or []]
    signal = params.get("signal")
    base = LiveComparison(model, profile, chain, str(signal), str(params.get("threshold")))
    if len(chain) < 2:
        return replace(base, note=f"meta.json has no chain of two or more tiers for {model}")
    try:
        by_kind = CascadeParams.model_validate({k: params.get(k) for k in ("chain", "signal", "threshold")}).rules()
        steps: list[Step] = resolve_chain([(name, profile) for name in chain], cells)
    except ValidationError as exc:
        return replace(base, note=f"cannot replay it: {exc.errors()[0]['msg']}")
    except UserError as exc:
        return replace(base, note=f"cannot replay it: {exc}")
    live: dict[ItemKey, dict[str, Any]] = {
        item_key(r): r for r in records if r.get("model") == model and r.get("profile") == profile
    }
    by_cell = samples_by_cell((r for r in records if item_key(r) in live), steps)
    try:
        items = join_items(by_cell, steps, None, "samples.jsonl")
    except UserError as exc:
        return replace(base, note=str(exc))
    tier_records = [[by_cell[s.key][key] for s in steps] for key in items.keys]
    answer = np.array([[_answer(recs, by_kind.get(_kind(recs[0]))) for recs in tier_records]])
    consulted = None
    if any(SIGNALS[rule.signal].extra_cost for rule in by_kind.values()):
        consulted = reached(answer, len(steps) - 1)
    predicted_out = outcome(items, answer, TierRates.of(steps), consulted)
    answered = [live[key] for key in items.keys]
    tier_of = [str(r.get(CASCADE_TIER_FIELD) or "") for r in answered]
    latency = np.array([finite_or_none(r.get("latency_s")) or np.nan for r in answered], dtype=float)
    measured = {
        "accuracy": float(np.mean([Sample.read(r).correct is True for r in answered])),
        "escalation": float(np.mean([t != chain[0] for t in tier_of])) if all(tier_of) else None,
        "latency_p95_s": _p95(latency),
        "cost_per_1k_usd": finite_or_none(row.get("cost_per_1k_requests_usd")),
    }
    predicted = {
        "accuracy": float(predicted_out.correct.mean()),
        "escalation": float(predicted_out.reached[0, :, 1].mean()),
        "latency_p95_s": _p95(predicted_out.latency_s[0]),
        "cost_per_1k_usd": finite_or_none(1000.0 * predicted_out.cost_usd.mean()),
    }
    excluded, why = sum(items.excluded.values()), "; ".join(f"{n} {why}" for why, n in items.excluded.items())
    note = f"{excluded} item(s) of the live cell left out: {why}" if excluded else ""
    return replace(base, items=items.n, live=measured, replayed=predicted, note=note)


def live_comparisons(run_dir: Path) -> list[LiveComparison]:
    """One comparison per live cascade cell that ran (none when the run has no such cell)."""
    store = RunStore.open(run_dir)
    cells = store.read_table("cells")
    rows = [r for r in cell_rows(cells) if r.get("backend") == CASCADE_BACKEND and (r.get("status") or "ok") in RAN]
    if not rows:
        return []
    meta, samples = store.read_meta(), store.read_samples()
    return [compare_cell(r, meta, cells, samples) for r in rows]
