"""Baseline files: a run's gate snapshot in one compact, versioned, checksummed file.

Layout: gzip-compressed JSON ``{"format": "tierbench-baseline", "version": 1, "sha256": ...,
"payload": {...}}``; tables are stored column by column. The checksum covers the canonical
JSON of the payload, so a truncated or hand-edited file is refused instead of gated against.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from harness import strictjson
from harness.errors import UserError
from harness.results.snapshot import Snapshot, from_run, normalize_cells, normalize_items, normalize_requests
from harness.results.store import atomic_write_bytes

FORMAT = "tierbench-baseline"
VERSION = 1
HOW_TO_MAKE = "create it with 'tierbench baseline save RUN --to PATH'"


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str).encode("utf-8")


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _encode_table(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """Column lists of JSON-safe values: NaN and missing become null, numpy scalars plain Python."""
    lists = frame.astype(object).where(frame.notna(), None).to_dict(orient="list")
    return {str(column): values for column, values in lists.items()}


def _decode_table(data: Any, name: str, path: Path) -> pd.DataFrame:
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise UserError(f"{path}: corrupted baseline (table '{name}' is not column lists); {HOW_TO_MAKE}")
    lengths = {len(v) for v in data.values()}
    if len(lengths) > 1:
        raise UserError(f"{path}: corrupted baseline (table '{name}' has ragged columns); {HOW_TO_MAKE}")
    return pd.DataFrame(data)


def encode(snapshot: Snapshot) -> bytes:
    """The bytes of a baseline file (deterministic: same run, same bytes)."""
    payload = {
        "meta": json.loads(json.dumps(snapshot.meta, default=str)),
        "source": snapshot.source,
        **{name: _encode_table(getattr(snapshot, name)) for name in ("cells", "items", "requests")},
    }
    document = {"format": FORMAT, "version": VERSION, "sha256": _digest(payload), "payload": payload}
    return gzip.compress(_canonical(document), mtime=0)


def save(run_dir: Path, to: Path) -> Snapshot:
    """Write the baseline of ``run_dir`` to ``to``; returns what was stored."""
    snapshot = from_run(run_dir)
    if snapshot.cells.empty:
        raise UserError(f"{run_dir}: the run has no cells (cells.parquet is empty); nothing to save")
    try:
        atomic_write_bytes(to, encode(snapshot))
    except OSError as exc:
        raise UserError(f"--to {to}: cannot write there ({exc.strerror}); choose another path") from None
    return snapshot


def load(path: Path) -> Snapshot:
    """Read and verify a baseline file; any damage is a one-line UserError."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"--baseline {path}: file not found; {HOW_TO_MAKE}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--baseline {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"--baseline {path}: is a directory but not a run directory (no meta.json)")
    if not stat.S_ISREG(info.st_mode):  # reading a FIFO would wait forever for a writer
        raise UserError(f"--baseline {path}: not a regular file (a pipe or device?); {HOW_TO_MAKE}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"--baseline {path}: cannot read ({exc.strerror})") from None
    try:
        document = strictjson.loads(gzip.decompress(raw).decode("utf-8"))
    except strictjson.JSONRefused as exc:
        raise UserError(f"--baseline {path}: corrupted baseline ({exc}); {HOW_TO_MAKE}") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(
            f"--baseline {path}: corrupted or not a tierbench baseline (not gzip JSON); {HOW_TO_MAKE}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UserError(f"--baseline {path}: not a tierbench baseline (format field missing); {HOW_TO_MAKE}")
    if document.get("version") != VERSION:
        raise UserError(
            f"--baseline {path}: baseline format version {document.get('version')} is not supported "
            f"(this tierbench reads version {VERSION}); save the baseline again"
        )
    payload = document.get("payload")
    if not isinstance(payload, dict) or _digest(payload) != document.get("sha256"):
        raise UserError(f"--baseline {path}: corrupted baseline (checksum mismatch); {HOW_TO_MAKE}")
    meta = payload.get("meta")
    try:
        return Snapshot(
            source=str(path),
            meta=meta if isinstance(meta, dict) else {},
            cells=normalize_cells(_decode_table(payload.get("cells"), "cells", path)),
            items=normalize_items(_decode_table(payload.get("items"), "items", path)),
            requests=normalize_requests(_decode_table(payload.get("requests"), "requests", path)),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"--baseline {path}: corrupted baseline ({exc}); {HOW_TO_MAKE}") from None


def load_any(path: Path) -> Snapshot:
    """A baseline file, or a run directory used directly as the baseline."""
    if path.is_dir() and (path / "meta.json").exists():
        return from_run(path)
    return load(path)
