"""Type checks on tables read back from a run directory.

A run directory is a file tree anyone can edit or damage, and its readers do arithmetic on these
columns: text or an infinity there would end in a traceback or a silently wrong verdict. NaN ("not
measured") stays; text, ±inf and a missing key column are refused with the file, column and row.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import UserError
from harness.metrics import REQUEST_COLUMNS
from harness.results.columns import PROJECTED_RANGES
from harness.results.schema import CellOutcome, CellResult

# the cells table's numbers: the plan's budget and counts, and every numeric field the worker or parent records
_CELL_FIELDS = {**CellResult.model_fields, **CellOutcome.model_fields}
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": (
        "memory_budget_mb",
        "n_requests",
        "n_errors",
        *(name for name, f in _CELL_FIELDS.items() if f.annotation in (float | None, int | None)),
    ),
    "requests": ("repetition", "index", "prompt_tokens", "output_tokens", *REQUEST_COLUMNS),
    "scores": ("value", "stderr", "ci_low", "ci_high", "n"),
    "projections": PROJECTED_RANGES,
}
# What a row is: every reader selects and groups by these, so a table without one cannot be read.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": ("model", "profile", "status"),
    "requests": ("model", "profile", "scenario", "point"),
    "scores": ("model", "profile", "task", "metric", "value"),
    "load": ("model", "profile", "scenario"),
    "projections": ("model", "profile"),
}
_HOW = "re-run the cells with 'tierbench run --resume' or restore the file"


def _bad_value(series: pd.Series) -> tuple[int, object] | None:
    """The first row whose value is neither a finite number nor missing."""
    for row, value in enumerate(series.tolist()):
        if value is None or value is pd.NA:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            if hasattr(value, "item") and isinstance(value.item(), int | float):  # numpy scalar
                value = value.item()
            else:
                return row, value
        if isinstance(value, float) and math.isinf(value):
            return row, value
    return None


def check_table(name: str, frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` unchanged when it has its key columns and its numeric columns hold numbers;
    a one-line UserError naming the file and column otherwise."""
    missing = [column for column in KEY_COLUMNS.get(name, ()) if column not in frame.columns]
    if missing:
        raise UserError(f"{path}: column '{missing[0]}' is missing; {_HOW}")
    for column in [column for column in NUMERIC_COLUMNS.get(name, ()) if column in frame.columns]:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):
            infinite = np.isinf(series.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                row = int(infinite.argmax())
                raise UserError(f"{path}: column '{column}' row {row}: non-finite number ({series.iloc[row]}); {_HOW}")
            continue
        if (bad := _bad_value(series)) is not None:
            row, value = bad
            raise UserError(f"{path}: column '{column}' row {row}: {value!r:.40} where a number belongs; {_HOW}")
    return frame
