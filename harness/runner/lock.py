"""One ``tierbench run`` per run directory at a time: two would interleave their cell records.

The lock is a kernel ``flock`` on ``RUN/.lock``, which goes away with its process however it ends
(SIGKILL included), so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from harness.errors import UserError
from harness.results.files import is_run_file

LOCK_NAME = ".lock"


class RunLock:
    """An exclusive lock on a run directory, held until its ``with`` block ends or the process exits."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        path = run_dir / LOCK_NAME
        is_run_file(path, "the run's lock file")  # a directory or FIFO in its place: one line, not a traceback
        try:
            handle = path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: cannot open the run's lock ({exc.strerror or exc})") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise UserError(
                f"{run_dir}: another tierbench run{who} is using it; wait for it or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return cls(handle)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()  # closing the file drops the flock
