"""Crash-safe file primitives: atomic whole-file writes and append-only jsonl.

Kept free of pandas so a cell worker can use them without paying for the import (its memory
is what we measure).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from harness.errors import UserError
from harness.secrets import redact_data


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
    """Write ``data`` as JSON, redacted (harness.secrets), atomically."""
    atomic_write_bytes(path, json.dumps(redact_data(data), indent=2, sort_keys=True, default=str).encode())


def jsonl_line(record: dict[str, Any]) -> bytes:
    """One record, redacted, as a UTF-8 JSON line."""
    return (json.dumps(redact_data(record), default=str, ensure_ascii=False) + "\n").encode("utf-8")


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record, redacted, as a line and flush it to disk (mending a torn last line first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        _mend_tail(handle)
        handle.write(jsonl_line(record))
        handle.flush()
        os.fsync(handle.fileno())


def _mend_tail(handle: BinaryIO) -> None:
    """A writer killed mid-append leaves a last line without its newline; appending after it
    would bury it mid-file, where ``read_jsonl`` rightly calls the file corrupted. A tail that
    is a whole record gets its newline (readers already counted it); anything else is cut off."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return
    start = size
    while start > 0:
        start = max(0, start - 65536)
        handle.seek(start)
        cut = handle.read(size - start).rfind(b"\n")
        if cut >= 0:
            start += cut + 1
            break
    handle.seek(start)
    try:
        json.loads(handle.read(size - start).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        handle.truncate(start)
    else:
        handle.write(b"\n")


# what a parsed JSON value is, in JSON's words (for errors about a record of the wrong shape)
_JSON_KINDS = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "array"}


def is_run_file(path: Path, what: str) -> bool:
    """Whether a file of a run directory is there (False: absent). Anything else in its place is a
    one-line UserError naming it: a directory, or a FIFO or device, which would block or never end a read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: is a directory, expected {what}; remove it or restore the file")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path}: not a regular file (a pipe or device?), expected {what}; restore the file")
    return True


def read_run_bytes(path: Path, what: str) -> bytes | None:
    """The content of a run directory's file, None when it is absent; a one-line UserError when unreadable."""
    if not is_run_file(path, what):
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a jsonl file; a torn final line (a killed writer) is dropped, others must parse
    and be JSON objects (every record tierbench writes is one)."""
    data = read_run_bytes(path, "a JSONL file")
    if data is None:
        return []
    records: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except RecursionError:  # nested thousands deep: no record of ours looks like that
            raise UserError(
                f"{path}:{number}: corrupted record (nested too deep); delete the line or the run"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                break  # torn last line from an interrupted append
            raise UserError(f"{path}:{number}: corrupted record (not JSON); delete the line or the run") from None
        if not isinstance(record, dict):
            kind = _JSON_KINDS.get(type(record), "object")
            raise UserError(
                f"{path}:{number}: corrupted record (a JSON {kind}, not an object); delete the line or the run"
            )
        records.append(record)
    return records
