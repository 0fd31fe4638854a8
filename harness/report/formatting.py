"""Number formatting for the report: units people read, and never NaN or None on the page."""

from __future__ import annotations

import math

from harness.results.columns import COST_SPLIT_COLUMNS
from harness.results.rows import row_fields
from harness.results.values import finite_or_none as clean
from harness.results.values import text

__all__ = ["DASH", "clean", "row_fields", "text"]  # re-exported: the report reads table values through these

DASH = "—"


def _sig(value: float, digits: int = 3) -> str:
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}"


def seconds(value: float) -> str:
    return f"{_sig(value * 1000)} ms" if abs(value) < 1 else f"{_sig(value)} s"


def megabytes(value: float) -> str:
    return f"{_sig(value / 1024)} GB" if abs(value) >= 1024 else f"{_sig(value)} MB"


def joules(value: float) -> str:
    return f"{_sig(value / 1000)} kJ" if abs(value) >= 1000 else f"{_sig(value)} J"


def dollars(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${_sig(value)}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def rate(value: float) -> str:
    """Tokens per second."""
    return f"{_sig(value)} tok/s"


def count(value: float) -> str:
    return f"{round(value):,}"


def pvalue(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


FORMATTERS = {
    "pvalue": pvalue,
    "seconds": seconds,
    "megabytes": megabytes,
    "joules": joules,
    "dollars": dollars,
    "percent": percent,
    "plain": _sig,  # three significant digits, no unit
    "rate": rate,
    "count": count,
}


def fmt(value: float | None, kind: str) -> str:
    """Format ``value`` as ``kind`` (one of FORMATTERS); a dash for a missing value."""
    number = clean(value)
    return DASH if number is None else FORMATTERS[kind](number)


def fmt_range(low: float | None, high: float | None, kind: str) -> str:
    """'a–b' in the unit of ``kind``; empty when either end is missing."""
    lo, hi = clean(low), clean(high)
    if lo is None or hi is None:
        return ""
    return f"{fmt(lo, kind)}–{fmt(hi, kind)}"


def cost_split_text(numbers: dict[str, float | None]) -> str:
    """An API cell's cost of 1k requests by part (fresh input, cached input, answer, reasoning); "" for a local one."""
    parts = [clean(numbers.get(column)) for column in COST_SPLIT_COLUMNS]
    if any(p is None for p in parts):
        return ""
    names = ("input", "cached", "answer", "reasoning")
    return " + ".join(f"{name} {fmt(part, 'dollars')}" for name, part in zip(names, parts, strict=True))


def energy_text(value: float | None, low: float | None, high: float | None, source: str, kind: str = "joules") -> str:
    """An estimate as its range (``est. 10 J–14 J``), a sensor's figure with its source (``12.3 J (nvml)``)."""
    number = clean(value)
    if number is None:
        return DASH
    if source == "estimate":
        return f"est. {fmt_range(low, high, kind) or fmt(number, kind)}"
    return f"{fmt(number, kind)} ({source})" if source and source != "none" else fmt(number, kind)
