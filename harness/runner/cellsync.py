"""Mirror a remote cell's scratch directory into the run directory (no shared filesystem is assumed).

Changes travel as small messages (``CellTail.poll``) applied on the driver (``apply``) with a local
worker's crash-safe writers, so ``--resume`` sees exactly what a local crash would have left.
It imports nothing heavy (no Ray, no pandas).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results.files import append_jsonl, atomic_write_bytes

# where the driver placed the cell's current attempt (node id, hostname): the driver's own record
PLACEMENT = "placement.json"
# spec.json is written by each side for itself (its run_dir differs); dot-files are temporaries
PRIVATE = {"spec.json", PLACEMENT}
# a fresh attempt re-derives these, so they never travel to it
NOT_RESTORED = {"status.json", "over_budget.json", "worker.log", *PRIVATE}
LOG = "worker.log"


@dataclass
class _Seen:
    inode: int
    offset: int
    mtime_ns: int


def _files(cell_dir: Path) -> list[Path]:
    if not cell_dir.is_dir():
        return []
    return sorted(p for p in cell_dir.iterdir() if p.is_file() and not p.name.startswith(".") and p.name not in PRIVATE)


def snapshot(cell_dir: Path) -> dict[str, bytes]:
    """What a new attempt of the cell starts from: the records the run directory already holds."""
    return {p.name: p.read_bytes() for p in _files(cell_dir) if p.name not in NOT_RESTORED}


def _plain_name(name: str) -> bool:
    """Names come over the wire: a plain file of the cell's directory, never a path or a temporary."""
    return Path(name).name == name and not name.startswith(".")


def restore(cell_dir: Path, files: dict[str, bytes]) -> None:
    """Lay a snapshot out in a fresh scratch directory."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if not _plain_name(name):
            raise ValueError(f"not a cell file name: {name!r}")
        (cell_dir / name).write_bytes(data)


class CellTail:
    """Follows a cell directory and reports what changed since the last poll: whole new lines of jsonl
    files (a torn last line waits for its newline), or a whole file when it is small or was rewritten
    (a worker drops an unfinished task's records by rename, so a new inode)."""

    def __init__(self, cell_dir: Path) -> None:
        self.dir = cell_dir
        self._seen: dict[str, _Seen] = {}

    def mark(self) -> None:
        """Take the directory as it is now as already known (the restored snapshot)."""
        for path in _files(self.dir):
            st = path.stat()
            self._seen[path.name] = _Seen(st.st_ino, st.st_size, st.st_mtime_ns)

    def poll(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for path in _files(self.dir):
            try:
                message = self._change(path)
            except FileNotFoundError:  # renamed over or removed between listing and reading
                continue
            if message is not None:
                messages.append(message)
        return messages

    def _change(self, path: Path) -> dict[str, Any] | None:
        name = path.name
        seen = self._seen.get(name)
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            streamed = name.endswith(".jsonl") or name == LOG
            if not streamed:
                if seen == _Seen(st.st_ino, st.st_size, st.st_mtime_ns):
                    return None
                data = handle.read()
                self._seen[name] = _Seen(st.st_ino, len(data), st.st_mtime_ns)
                return {"file": name, "op": "replace", "data": data}
            rewritten = seen is not None and (seen.inode != st.st_ino or st.st_size < seen.offset)
            start = 0 if seen is None or rewritten else seen.offset
            handle.seek(start)
            data = handle.read()
        if name != LOG:
            data = data[: data.rfind(b"\n") + 1]  # whole lines only
        if not data and not rewritten:
            return None
        self._seen[name] = _Seen(st.st_ino, start + len(data), st.st_mtime_ns)
        return {"file": name, "op": "replace" if rewritten else "append", "data": data}


def apply(cell_dir: Path, messages: list[dict[str, Any]]) -> None:
    """Write a remote cell's changes into the run directory, crash-safe as a local worker would."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    for message in messages:
        name = str(message["file"])
        if not _plain_name(name) or name in PRIVATE:
            continue
        path = cell_dir / name
        data: bytes = message["data"]
        if message["op"] == "replace":
            atomic_write_bytes(path, data)
        elif name == LOG:
            with path.open("ab") as handle:
                handle.write(data)
        else:
            for line in data.splitlines():
                if line.strip():
                    append_jsonl(path, json.loads(line))
