"""What the gate compares: the slice of a run it needs, read from a run directory or a baseline.

Three small tables: ``cells`` (tier, status and every numeric cell column), ``items`` (one accuracy item's
outcome and a hash of its target, so a changed dataset is caught instead of compared) and ``requests``
(the measured perf requests with their latency figures).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.metrics import REQUEST_COLUMNS
from harness.results import RunStore
from harness.results.rows import Sample
from harness.results.schema import dump_record
from harness.results.values import error_mask, warmup_mask

CELL_KEYS = ["model", "tier", "backend", "profile", "status", "reason"]
ITEM_COLUMNS = ["model", "profile", "task", "doc_id", "outcome", "binary", "target_hash"]


@dataclass
class Snapshot:
    """The gate's view of one run."""

    source: str
    meta: dict[str, Any]
    cells: pd.DataFrame
    items: pd.DataFrame
    requests: pd.DataFrame

    def cell_names(self) -> list[str]:
        return [f"{m}@{p}" for m, p in zip(self.cells["model"], self.cells["profile"], strict=True)]


def target_hash(target: Any) -> str:
    """A short, stable fingerprint of an item's reference answer."""
    return hashlib.sha256(repr(target).encode("utf-8")).hexdigest()[:12]


def items_from_samples(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-item outcomes; items without a usable outcome are left out, duplicates keep the first."""
    rows = [
        [sample.model, sample.profile, sample.task, sample.doc_id, *outcome, target_hash(sample.target)]
        for sample in map(Sample.read, records)
        if sample.doc_id and (outcome := sample.outcome()) is not None
    ]
    frame = normalize_items(pd.DataFrame(rows, columns=ITEM_COLUMNS))
    return frame.drop_duplicates(subset=["model", "profile", "task", "doc_id"], keep="first").reset_index(drop=True)


def normalize_items(items: pd.DataFrame) -> pd.DataFrame:
    """The item table with fixed column types (it may come from JSON)."""
    missing = [c for c in ITEM_COLUMNS if c not in items.columns]
    if missing:
        raise ValueError(f"item table lacks {', '.join(missing)}")
    out = pd.DataFrame(index=items.index)
    for key in ("model", "profile", "task", "doc_id", "target_hash"):
        out[key] = items[key].astype(str)
    out["outcome"] = pd.to_numeric(items["outcome"], errors="coerce").astype(float)
    out["binary"] = items["binary"].astype(bool)
    return out.reset_index(drop=True)


def _is_numeric(series: pd.Series) -> bool:
    """All numbers or missing (an all-missing column counts: not measured); booleans are not numbers."""
    if pd.api.types.is_numeric_dtype(series):
        return not pd.api.types.is_bool_dtype(series)
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in series.dropna())


def normalize_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Keys as strings, every numeric column as float; other columns dropped."""
    out = pd.DataFrame(index=cells.index)
    for key in CELL_KEYS:
        out[key] = cells[key].astype("string").astype(object) if key in cells.columns else None
    for column in cells.columns:
        if column not in CELL_KEYS and _is_numeric(cells[column]):
            out[column] = pd.to_numeric(cells[column], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def normalize_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """Measured requests only (warm-ups dropped); an error becomes a flag, latencies floats."""
    frame = requests.loc[~warmup_mask(requests)]
    out = pd.DataFrame(index=frame.index)
    for key in ("model", "profile", "scenario", "point"):
        out[key] = frame[key].astype(str) if key in frame.columns else ""
    for key in ("repetition", "index"):
        out[key] = pd.to_numeric(frame[key], errors="coerce").fillna(0).astype(int) if key in frame.columns else 0
    out["error"] = error_mask(frame)
    for column in REQUEST_COLUMNS:
        out[column] = (
            pd.to_numeric(frame[column], errors="coerce").astype(float) if column in frame.columns else math.nan
        )
    return out.reset_index(drop=True)


def from_run(path: Path) -> Snapshot:
    """Read what the gate needs from a run directory (UserError when it is not one)."""
    store = RunStore.open(path)
    meta = dump_record(store.read_meta())
    cells = normalize_cells(store.read_table("cells"))
    items = items_from_samples(store.read_samples())
    requests = normalize_requests(store.read_table("requests"))
    return Snapshot(source=str(path), meta=meta, cells=cells, items=items, requests=requests)
