"""Gather what the workers wrote into the run's tables (cells, requests, scores, samples)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.fitcost import enrich_cells
from harness.projection import project_run
from harness.results.columns import LABEL_COLUMNS, LOAD_COLUMNS
from harness.results.files import read_jsonl
from harness.results.layout import CellFiles
from harness.results.schema import CellOutcome, CellResult, read_record
from harness.results.store import RunStore
from harness.results.values import error_mask, warmup_mask
from harness.runner.cell import CellSpec


def cell_row(spec: CellSpec, result: CellResult | None, outcome: CellOutcome | None) -> dict[str, Any]:
    """One cells-table row: the plan, then what the worker measured, then how the parent saw it end (an
    outcome, where there is one, wins: the worker's own result does not tell the whole story)."""
    row = {
        "cell_id": spec.cell_id,
        "model": spec.model.name,
        "tier": spec.model.tier,
        "backend": spec.model.backend,
        "profile": spec.profile.name,
        "emulated_on": spec.emulated_on,
        "memory_budget_mb": spec.profile.memory_mb,
        "threads": spec.profile.effective_threads,
        **label_columns(spec),
    }
    if result is not None:
        row.update(result.model_dump(mode="json", exclude={"backend_info"}))
    if outcome is not None:
        row.update(outcome.model_dump(mode="json", exclude_none=True))
    return row


def label_columns(spec: CellSpec) -> dict[str, Any]:
    """The model's catalog labels that the tables declare (numbers as numbers)."""
    labels = spec.model.labels
    numbers = ("bits_per_weight", "quant_file_mb")
    return {k: float(labels[k]) if k in numbers else labels[k] for k in LABEL_COLUMNS if k in labels}


def read_cell_result(files: CellFiles, on_damage: Callable[[str], None] | None = None) -> CellResult | None:
    """The worker's result, or None when it did not finish. It is written atomically as the worker's
    last act, so a damaged one says nothing about the cell: ``--resume`` runs it again (``on_damage`` hears why)."""
    if not os.path.lexists(files.result):
        return None
    try:
        return read_record(files.result, CellResult)
    except UserError as exc:
        if on_damage is not None:
            on_damage(str(exc))
        return None


def collect(store: RunStore, specs: list[CellSpec], outcomes: dict[str, CellOutcome]) -> dict[str, dict[str, Any]]:
    """Write the run's tables and samples.jsonl from every cell's files; each finished cell's
    ``Backend.describe()`` for meta.json."""
    rows: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    backends: dict[str, dict[str, Any]] = {}
    for spec in specs:
        files = store.layout.cell(spec.cell_id)
        ident = {"cell_id": spec.cell_id, "model": spec.model.name, "profile": spec.profile.name}
        requests = read_jsonl(files.requests)
        result = read_cell_result(files)
        if result is not None and result.backend_info:
            backends[spec.cell_id] = result.backend_info
        row = cell_row(spec, result, outcomes.get(spec.cell_id))
        frame = pd.DataFrame(requests)
        warmup, error = warmup_mask(frame), error_mask(frame)
        row["n_requests"], row["warmup_requests"] = int((~warmup).sum()), int(warmup.sum())
        row["n_errors"] = int((~warmup & error).sum())
        points = load_points(files)
        row["client_limited_points"] = sum(1 for point in points if point.get("client_limited"))
        rows["cells"].append(row)
        rows["requests"] += [{**record, **ident} for record in requests]
        rows["scores"] += [{**score, **ident} for score in read_jsonl(files.scores)]
        rows["samples"] += [{**ident, **sample} for sample in read_jsonl(files.samples)]
        rows["load"] += [{**point, **ident} for point in points]
    requests_table = pd.DataFrame(rows["requests"])
    profiles = {spec.profile.name: spec.profile for spec in specs}
    models = {spec.model.name: spec.model for spec in specs}
    cells_table = enrich_cells(pd.DataFrame(rows["cells"]), requests_table, profiles, models)
    store.write_table("cells", cells_table)
    store.write_table("projections", project_run(cells_table, requests_table, profiles))
    store.write_table("requests", requests_table)
    store.write_table("scores", pd.DataFrame(rows["scores"]))
    store.write_table("load", pd.DataFrame(rows["load"], columns=LOAD_COLUMNS))
    store.write_samples(rows["samples"])
    return backends


def load_points(files: CellFiles) -> list[dict[str, Any]]:
    """Rows of the load table from a cell's load-scenario summaries (one per point, or the skip reason)."""
    rows: list[dict[str, Any]] = []
    for record in read_jsonl(files.load_summary):
        summary = record.get("summary") or {}
        base = {"scenario": summary.get("scenario", record.get("scenario")), "kind": summary.get("kind")}
        if summary.get("skipped"):
            rows.append({**base, "skipped": summary["skipped"]})
        else:
            rows += [{**base, **{k: v for k, v in p.items() if k in LOAD_COLUMNS}} for p in summary.get("points") or []]
    return rows
