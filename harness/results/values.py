"""Reading numbers out of result tables, where missing values come as None, NaN or pandas NA."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> float | None:
    """A finite float, or ``None`` for None, NaN, pandas NA, infinities, booleans and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
