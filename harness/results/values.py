"""Reading result tables: numbers whose missing values come as None, NaN or pandas NA, and the
one definition of a measured request."""

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


def measured_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """The requests every latency figure rests on: not warm-ups, and without an error."""
    keep = pd.Series(True, index=requests.index)
    if "warmup" in requests:
        keep &= ~requests["warmup"].fillna(False).astype(bool)
    if "error" in requests:
        keep &= ~requests["error"].map(lambda e: isinstance(e, str) and e != "")
    return requests.loc[keep]
