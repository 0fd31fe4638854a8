"""The run directory on disk (paths: harness.results.layout; meta.json: harness.results.schema).

Every whole-file write goes to a temporary file and is renamed into place, so a killed run
never leaves a half-written table; jsonl appends tolerate a torn last line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.results.checks import check_table
from harness.results.columns import CELL_COLUMNS, LOAD_COLUMNS, PROJECTION_COLUMNS, REQUEST_COLUMNS, SCORE_COLUMNS
from harness.results.files import atomic_write_bytes, atomic_write_json, is_run_file, jsonl_line, read_jsonl
from harness.results.layout import RunLayout
from harness.results.migrate import upgrade_meta
from harness.results.schema import RunMeta, dump_record, read_record
from harness.secrets import redact_data, secrets_known, use_params

__all__ = ["RunStore", "atomic_write_bytes"]  # atomic_write_bytes: re-exported for the gate and report writers

_COLUMNS = {
    "cells": CELL_COLUMNS,
    "requests": REQUEST_COLUMNS,
    "scores": SCORE_COLUMNS,
    "load": LOAD_COLUMNS,
    "projections": PROJECTION_COLUMNS,
}


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layout = RunLayout(root)

    @classmethod
    def create(cls, root: Path) -> RunStore:
        """Make the directory (it may exist and be empty, or be resumed)."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise UserError(f"--out {root}: cannot write there ({exc.strerror}); choose another directory") from None
        return cls(root)

    @classmethod
    def open(cls, root: Path) -> RunStore:
        """An existing run directory; a clear error when it is not one."""
        if not root.is_dir():
            raise UserError(f"{root}: no such run directory")
        if not (root / "meta.json").exists():
            raise UserError(f"{root}: not a tierbench run directory (no meta.json)")
        return cls(root)

    def write_meta(self, meta: RunMeta) -> None:
        atomic_write_json(self.layout.meta, dump_record(meta))

    def read_meta(self) -> RunMeta:
        """The run's typed metadata, upgraded from an older schema; one line for a newer one or a missing field."""
        if not self.layout.meta.exists():
            raise UserError(f"{self.root}: not a tierbench run directory (no meta.json)")
        meta = read_record(self.layout.meta, RunMeta, upgrade=upgrade_meta)
        # the run names the variables that held its secrets: whatever this process writes is redacted of them
        use_params(m["params"] for m in meta.models if isinstance(m.get("params"), dict))
        return meta

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        _with_declared(name, frame)
        atomic_write_bytes(self.layout.table(name), _redacted(frame).to_parquet(index=False))

    def read_table(self, name: str) -> pd.DataFrame:
        """A results table (no file: an empty frame of the declared columns). A declared column the file
        lacks reads as not measured (a run from before the column existed); a missing key column is refused."""
        path = self.layout.table(name)
        if not is_run_file(path, "a table (parquet file)"):  # a directory would read as a parquet dataset
            return pd.DataFrame(columns=_COLUMNS.get(name, []))
        try:
            frame = pd.read_parquet(path)
        except Exception:
            raise UserError(f"{path}: corrupted table; re-run the cells with 'tierbench run --resume'") from None
        return _with_declared(name, check_table(name, frame, path))

    def write_samples(self, records: Iterable[dict[str, Any]]) -> None:
        atomic_write_bytes(self.layout.samples, b"".join(jsonl_line(r) for r in records))

    def read_samples(self) -> list[dict[str, Any]]:
        return read_jsonl(self.layout.samples)


def _with_declared(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every declared column of table ``name``: one it lacks is not measured (None)."""
    for column in _COLUMNS.get(name, []):
        if column not in frame.columns:
            frame[column] = None
    return frame


def _redacted(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell through the redaction step (a no-op when no secret is known)."""
    texts = [c for c in frame.columns if frame[c].dtype == object]
    if not texts or not secrets_known():
        return frame
    frame = frame.copy()
    for column in texts:
        frame[column] = frame[column].map(redact_data)
    return frame
