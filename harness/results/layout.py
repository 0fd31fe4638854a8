"""Every path inside a run directory, in one place.

Layout::

    RUN/meta.json            RunMeta (harness.results.schema): what was run, where, how
    RUN/cells.parquet        one row per (model, profile) cell
    RUN/requests.parquet     perf requests       RUN/scores.parquet   task scores
    RUN/load.parquet         load points         RUN/samples.jsonl    per-item records
    RUN/report.html          RUN/report.md       the decision report
    RUN/cells/<cell_id>/     what a worker writes while it runs (jsonl appends, final result)

Pandas-free: the cell worker, the executor and the collector all find files through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import overload


class _CellFile:
    """A file of a cell's scratch directory: ``files.spec`` is ``files.dir / "spec.json"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, files: None, owner: type[CellFiles]) -> _CellFile: ...
    @overload
    def __get__(self, files: CellFiles, owner: type[CellFiles]) -> Path: ...
    def __get__(self, files: CellFiles | None, owner: type[CellFiles]) -> Path | _CellFile:
        return self if files is None else files.dir / self.name


@dataclass(frozen=True)
class CellFiles:
    """Paths of one cell's scratch directory, written by its worker and read by the parent."""

    dir: Path

    spec = _CellFile("spec.json")
    requests = _CellFile("requests.jsonl")
    samples = _CellFile("samples.jsonl")
    scores = _CellFile("scores.jsonl")
    responses = _CellFile("responses.jsonl")
    load_summary = _CellFile("load_summary.jsonl")
    tasks_done = _CellFile("tasks_done.json")
    result = _CellFile("status.json")  # the worker's CellResult, written atomically when it finishes
    over_budget = _CellFile("over_budget.json")
    log = _CellFile("worker.log")


@dataclass(frozen=True)
class RunLayout:
    """Paths of one run directory."""

    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"

    @property
    def samples(self) -> Path:
        return self.root / "samples.jsonl"

    def table(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def cell(self, cell_id: str) -> CellFiles:
        return CellFiles(self.root / "cells" / cell_id)
