"""Input checks that the API and the commands share: a bad name fails before any model time."""

from __future__ import annotations

import os
from pathlib import Path

from harness.config.loading import first_duplicate
from harness.errors import UserError


def check_out_path(path: Path, flag: str = "--out") -> None:
    """An output directory name the file system can hold and the run record can store as text."""
    text = os.fsencode(path)
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{flag}: the path is not valid UTF-8; choose a name in UTF-8") from None
    longest = max((len(part) for part in text.split(b"/")), default=0)
    limit = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if longest > limit:
        raise UserError(f"{flag}: a path component is {longest} bytes long (limit {limit}); choose a shorter name")
    if len(text) > 4000:
        raise UserError(f"{flag}: the path is {len(text)} bytes long; choose a shorter one")


def refuse_duplicates(flag: str, names: list[str] | None) -> None:
    """Results are keyed by name: ``--tasks a,a`` would merge two runs of one task into one row."""
    twice = first_duplicate(names or [])
    if twice is not None:
        raise UserError(f"{flag}: '{twice}' is given twice; name each once")


def check_tasks(names: list[str]) -> None:
    """Every task file and data file checked before any cell starts: a typo costs no model time."""
    from harness.evaluation.taskdefs import get_taskdef, read_docs

    for name in names:
        task = get_taskdef(name)
        if task.data is not None:
            read_docs(task, None)
