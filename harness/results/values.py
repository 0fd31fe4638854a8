"""Reading result tables: numbers and text whose missing values come as None, NaN or pandas NA,
and the one definition of a measured request and of a correct answer."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def finite_or_none(value: Any) -> float | None:
    """A finite float, or ``None`` for None, NaN, pandas NA, infinities, booleans and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def text(value: Any) -> str:
    """A table or sample field as text: "" for None and the NaN/NA/NaT pandas puts in missing cells,
    so that "nan" or "None" never reaches a reader."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return str(value)


def correct_value(value: Any) -> bool | None:
    """A sample's correctness as a bool (a number of at least 0.5 counts as correct), None when absent."""
    if isinstance(value, bool):
        return value
    number = finite_or_none(value)
    return None if number is None else number >= 0.5


def warmup_mask(requests: pd.DataFrame) -> pd.Series:
    """True for a warm-up request: sent, counted, never measured."""
    return requests.get("warmup", pd.Series(False, index=requests.index)).fillna(False).astype(bool)


def error_mask(requests: pd.DataFrame) -> pd.Series:
    """True for a request that failed (a non-empty error text)."""
    errors = requests.get("error", pd.Series(None, index=requests.index, dtype=object))
    return errors.map(lambda e: isinstance(e, str) and e != "").astype(bool)


def measured_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """The requests every latency figure rests on: not warm-ups, and without an error."""
    return requests.loc[~warmup_mask(requests) & ~error_mask(requests)]
