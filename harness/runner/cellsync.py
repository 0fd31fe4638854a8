"""Mirror a cell's scratch directory from the machine that measures it to the run directory.

Without a shared filesystem a remote cell writes into a private temporary directory; this
module turns that directory's changes into small messages (``CellTail.poll``) and applies them
on the driver (``apply``) with the same crash-safe writers a local worker uses, so the driver's
``RUN/cells/<cell>/`` holds every finished record as soon as it exists and ``--resume`` sees
exactly what a local crash would have left. It imports nothing heavy (no Ray, no pandas).
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


def restore(cell_dir: Path, files: dict[str, bytes]) -> None:
    """Lay a snapshot out in a fresh scratch directory (names are checked: they come over the wire)."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"not a cell file name: {name!r}")
        (cell_dir / name).write_bytes(data)


class CellTail:
    """Follows a cell directory and reports what changed since the last poll.

    jsonl files are append-only streams: only whole new lines travel (a torn last line waits
    for its newline). When the worker rewrites one whole (dropping an unfinished task's
    records on resume, via rename, so a new inode), the whole file travels as a replacement.
    Other files (status, tasks done) are small and travel whole whenever they change.
    """

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
        if Path(name).name != name or name.startswith(".") or name in PRIVATE:
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
