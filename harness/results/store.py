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
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.results.columns import CELL_COLUMNS, REQUEST_COLUMNS, SCORE_COLUMNS

_COLUMNS = {"cells": CELL_COLUMNS, "requests": REQUEST_COLUMNS, "scores": SCORE_COLUMNS}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, sort_keys=True, default=str).encode())


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a line and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=str, ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a jsonl file; a torn final line (a killed writer) is dropped, others must parse."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = path.read_bytes().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                break  # torn last line from an interrupted append
            raise UserError(f"{path}:{number}: corrupted record (not JSON); delete the line or the run") from None
    return records


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    yield from read_jsonl(path)


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
        except FileNotFoundError:
            raise UserError(f"{self.root}: not a tierbench run directory (no meta.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{self.meta_path}: corrupted (not valid JSON)") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.meta_path}: corrupted (expected a JSON object)")
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
        atomic_write_bytes(self.table_path(name), frame.to_parquet(index=False))

    def read_table(self, name: str) -> pd.DataFrame:
        """A results table; an empty frame with the declared columns when the run has none."""
        path = self.table_path(name)
        if not path.exists():
            return pd.DataFrame(columns=_COLUMNS.get(name, []))
        try:
            return pd.read_parquet(path)
        except Exception:
            raise UserError(f"{path}: corrupted table; re-run the cells with 'tierbench run --resume'") from None

    # -- samples ------------------------------------------------------------------------------
    @property
    def samples_path(self) -> Path:
        return self.root / "samples.jsonl"

    def write_samples(self, records: Iterable[dict[str, Any]]) -> None:
        body = "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in records)
        atomic_write_bytes(self.samples_path, body.encode("utf-8"))

    def read_samples(self) -> list[dict[str, Any]]:
        return read_jsonl(self.samples_path)

    # -- per-cell scratch ---------------------------------------------------------------------
    def cell_dir(self, cell_id: str) -> Path:
        return self.root / "cells" / cell_id
