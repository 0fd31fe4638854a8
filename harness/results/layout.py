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


@dataclass(frozen=True)
class CellFiles:
    """Paths of one cell's scratch directory, written by its worker and read by the parent."""

    dir: Path

    @property
    def spec(self) -> Path:
        return self.dir / "spec.json"

    @property
    def requests(self) -> Path:
        return self.dir / "requests.jsonl"

    @property
    def samples(self) -> Path:
        return self.dir / "samples.jsonl"

    @property
    def scores(self) -> Path:
        return self.dir / "scores.jsonl"

    @property
    def responses(self) -> Path:
        return self.dir / "responses.jsonl"

    @property
    def load_summary(self) -> Path:
        return self.dir / "load_summary.jsonl"

    @property
    def tasks_done(self) -> Path:
        return self.dir / "tasks_done.json"

    @property
    def result(self) -> Path:
        """The worker's CellResult, written atomically when it finishes."""
        return self.dir / "status.json"

    @property
    def over_budget(self) -> Path:
        return self.dir / "over_budget.json"

    @property
    def log(self) -> Path:
        return self.dir / "worker.log"


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
