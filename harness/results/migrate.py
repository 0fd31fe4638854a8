"""Reading a run directory an older tierbench wrote: its meta.json upgraded, step by step, to this
schema version, as inspect_ai reads its old logs instead of refusing them.

A step fills what the next version added (its documented default) and maps what it renamed; a field
no default can stand for is named in one line. Tables need no step: a declared column a table lacks
reads as not measured (``RunStore.read_table``), as its writer meant by leaving it out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.results.schema import SCHEMA_VERSION, RunMeta

Step = Callable[[dict[str, Any], Path], dict[str, Any]]


def _from_unversioned(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Schema 0 (before 2026-11-28): the same fields, unversioned; a run was named by its directory."""
    data = {"run_id": path.parent.name, **data, "schema_version": 1}
    missing = [name for name, field in RunMeta.model_fields.items() if field.is_required() and name not in data]
    if missing:
        raise UserError(
            f"{path}: written by an older tierbench (schema version 0) without field '{missing[0]}', "
            "which cannot be filled in; re-run it"
        )
    return data


# version -> the step that upgrades it to version + 1
STEPS: dict[int, Step] = {0: _from_unversioned}


def upgrade_meta(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """meta.json's fields at this schema version; one-line UserError for a version no step reaches."""
    version = data.get("schema_version", 0)
    if version == SCHEMA_VERSION and type(version) is int:
        return data
    if type(version) is not int or version not in STEPS:
        raise UserError(
            f"{path}: field 'schema_version' is {version!r}, but this tierbench reads schema version "
            f"{SCHEMA_VERSION} (and upgrades {', '.join(map(str, STEPS))}); read it with the tierbench "
            "that wrote it, or re-run"
        )
    while version != SCHEMA_VERSION:
        data, version = STEPS[version](data, path), version + 1
    return data
