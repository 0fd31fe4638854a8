"""Gather what the workers wrote into the run's tables (cells, requests, scores, samples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.fitcost import enrich_cells
from harness.projection import project_run
from harness.results.columns import LOAD_COLUMNS
from harness.results.store import RunStore, read_jsonl
from harness.runner.cell import CellSpec
from harness.runner.worker import CellFiles


def cell_base_row(spec: CellSpec) -> dict[str, Any]:
    return {
        "cell_id": spec.cell_id,
        "model": spec.model.name,
        "tier": spec.model.tier,
        "backend": spec.model.backend,
        "profile": spec.profile.name,
        "emulated_on": spec.emulated_on,
        "memory_budget_mb": spec.profile.memory_mb,
        "threads": spec.profile.effective_threads,
    }


def read_cell_status(files: CellFiles) -> dict[str, Any] | None:
    if not files.status.exists():
        return None
    try:
        data = json.loads(files.status.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _request_counts(requests: list[dict[str, Any]]) -> dict[str, int]:
    measured = [r for r in requests if not r.get("warmup")]
    return {
        "n_requests": len(measured),
        "n_errors": sum(1 for r in measured if r.get("error")),
        "warmup_requests": sum(1 for r in requests if r.get("warmup")),
    }


def collect(store: RunStore, specs: list[CellSpec], outcomes: dict[str, dict[str, Any]]) -> None:
    """Write cells/requests/scores tables and samples.jsonl from every cell's files.

    ``outcomes`` holds the parent's row for each cell it ran or skipped (status, reason, crash
    details); a cell's own status.json, when present, provides the measurements.
    """
    cell_rows: list[dict[str, Any]] = []
    request_rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    load_rows: list[dict[str, Any]] = []
    for spec in specs:
        files = CellFiles(store.cell_dir(spec.cell_id))
        ident = {"cell_id": spec.cell_id, "model": spec.model.name, "profile": spec.profile.name}
        requests = read_jsonl(files.requests)
        row = {**cell_base_row(spec), **(read_cell_status(files) or {}), **outcomes.get(spec.cell_id, {})}
        row.update(_request_counts(requests))
        row.pop("model_info", None)
        cell_rows.append(row)
        for record in requests:
            request_rows.append({**record, **ident})
        for score in read_jsonl(files.scores):
            score_rows.append({**score, **ident})
        for sample in read_jsonl(files.samples):
            samples.append({**ident, **sample})
        load_rows.extend({**row, **ident} for row in load_points(files))
    requests_table = pd.DataFrame(request_rows)
    profiles = {spec.profile.name: spec.profile for spec in specs}
    models = {spec.model.name: spec.model for spec in specs}
    cells_table = enrich_cells(pd.DataFrame(cell_rows), requests_table, profiles, models)
    store.write_table("cells", cells_table)
    store.write_table("projections", project_run(cells_table, requests_table, profiles))
    store.write_table("requests", requests_table)
    store.write_table("scores", pd.DataFrame(score_rows))
    store.write_table("load", pd.DataFrame(load_rows, columns=LOAD_COLUMNS))
    store.write_samples(samples)


def load_points(files: CellFiles) -> list[dict[str, Any]]:
    """Rows of the load table from a cell's load-scenario summaries (one per point, or the skip reason)."""
    rows: list[dict[str, Any]] = []
    for record in read_jsonl(files.dir / "load_summary.jsonl"):
        summary = record.get("summary") or {}
        base = {"scenario": summary.get("scenario", record.get("scenario")), "kind": summary.get("kind")}
        if summary.get("skipped"):
            rows.append({**base, "skipped": summary["skipped"]})
            continue
        for point in summary.get("points") or []:
            rows.append({**base, **{k: v for k, v in point.items() if k in LOAD_COLUMNS}})
    return rows


def model_info(store: RunStore, cell_id: str) -> dict[str, Any]:
    status = read_cell_status(CellFiles(Path(store.cell_dir(cell_id))))
    return dict(status.get("model_info") or {}) if status else {}
