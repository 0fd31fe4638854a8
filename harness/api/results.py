"""What ``harness.run`` returns: the run directory and its tables, read through the run store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from harness.report import ReportPaths

TableName = Literal["cells", "requests", "scores", "load", "projections", "fidelity"]

# How a run ends (README, "Exit codes"): a cell skipped for a stated reason (no API key, a profile this
# host cannot emulate) or measured not to fit is a result; a failed cell is not.
EXIT_CELLS_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class RunTable:
    """One table of a run directory, read on each ``to_pandas()``: the result holds a path, not a copy,
    so a resumed or re-reported run is seen as it is on disk."""

    run_dir: Path
    name: TableName

    def to_pandas(self) -> pd.DataFrame:
        from harness.results.store import RunStore

        return RunStore.open(self.run_dir).read_table(self.name)


@dataclass(frozen=True)
class RunResult:
    """A finished (or interrupted) run; its tables are the run directory's, typed by name."""

    run_dir: Path
    interrupted: bool
    failed_cells: tuple[str, ...]  # cell ids whose status is "failed"
    report: ReportPaths | None  # None when the report was not written (report=False, or interrupted)

    @property
    def exit_code(self) -> int:
        """What ``tierbench run`` exits with: 0, 1 (a cell failed) or 130 (interrupted)."""
        return EXIT_INTERRUPTED if self.interrupted else EXIT_CELLS_FAILED if self.failed_cells else 0

    @property
    def cells(self) -> RunTable:
        return RunTable(self.run_dir, "cells")

    @property
    def requests(self) -> RunTable:
        return RunTable(self.run_dir, "requests")

    @property
    def scores(self) -> RunTable:
        return RunTable(self.run_dir, "scores")

    def table(self, name: TableName) -> RunTable:
        """Any table by name: load, projections, fidelity."""
        return RunTable(self.run_dir, name)
