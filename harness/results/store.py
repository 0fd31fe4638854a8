"""The run directory on disk.

Layout::

    RUN/meta.json            host, versions, config, git revision
    RUN/cells.parquet        one row per (model, profile) cell
    RUN/requests.parquet     perf requests     RUN/scores.parquet   task scores
    RUN/samples.jsonl        per-item records
    RUN/cells/<cell_id>/     what a worker writes while it runs (jsonl appends, final status)

Every whole-file write goes to a temporary file and is renamed into place, so a killed run
never leaves a half-written table; jsonl appends tolerate a torn last line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.results.checks import check_meta, check_table
from harness.results.columns import CELL_COLUMNS, LOAD_COLUMNS, PROJECTION_COLUMNS, REQUEST_COLUMNS, SCORE_COLUMNS
from harness.results.files import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl
from harness.secrets import redact_data, secrets_known, use_params
from harness.strictjson import JSONRefused, check_depth

__all__ = ["RunStore", "append_jsonl", "atomic_write_bytes", "atomic_write_json", "read_jsonl"]

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

    # -- creation -----------------------------------------------------------------------------
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

    # -- metadata -----------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_json(self.meta_path, meta)

    def read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads(self.meta_path.read_text(encoding="utf-8"))
            check_depth(data)
        except FileNotFoundError:
            raise UserError(f"{self.root}: not a tierbench run directory (no meta.json)") from None
        except IsADirectoryError:
            raise UserError(f"{self.meta_path}: is a directory, expected the run's JSON record") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{self.meta_path}: corrupted (not valid JSON)") from None
        except (RecursionError, JSONRefused):
            raise UserError(f"{self.meta_path}: corrupted (nested deeper than JSON records go)") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.meta_path}: corrupted (expected a JSON object)")
        data = check_meta(data, self.meta_path)
        models = data.get("models")
        entries = models.values() if isinstance(models, dict) else models if isinstance(models, list) else []
        # the run names the variables that held its secrets: whatever this process writes is redacted of them
        use_params(m["params"] for m in entries if isinstance(m, dict) and isinstance(m.get("params"), dict))
        return data

    # -- tables -------------------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        columns = _COLUMNS.get(name)
        if columns is not None:
            for column in columns:
                if column not in frame.columns:
                    frame[column] = None
        atomic_write_bytes(self.table_path(name), _redacted(frame).to_parquet(index=False))

    def read_table(self, name: str) -> pd.DataFrame:
        """A results table; an empty frame with the declared columns when the run has none."""
        path = self.table_path(name)
        if not path.exists():
            return pd.DataFrame(columns=_COLUMNS.get(name, []))
        try:
            frame = pd.read_parquet(path)
        except Exception:
            raise UserError(f"{path}: corrupted table; re-run the cells with 'tierbench run --resume'") from None
        return check_table(name, frame, path)

    # -- samples ------------------------------------------------------------------------------
    @property
    def samples_path(self) -> Path:
        return self.root / "samples.jsonl"

    def write_samples(self, records: Iterable[dict[str, Any]]) -> None:
        body = "".join(json.dumps(redact_data(r), default=str, ensure_ascii=False) + "\n" for r in records)
        atomic_write_bytes(self.samples_path, body.encode("utf-8"))

    def read_samples(self) -> list[dict[str, Any]]:
        return read_jsonl(self.samples_path)

    # -- per-cell scratch ---------------------------------------------------------------------
    def cell_dir(self, cell_id: str) -> Path:
        return self.root / "cells" / cell_id


def _redacted(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell through the redaction step (a no-op when no secret is known)."""
    texts = [c for c in frame.columns if frame[c].dtype == object]
    if not texts or not secrets_known():
        return frame
    frame = frame.copy()
    for column in texts:
        frame[column] = frame[column].map(redact_data)
    return frame
