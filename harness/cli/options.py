"""Parsing helpers shared by commands (comma lists, finite numbers)."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that refuses nan and inf: NaN compares false with every bound, so
    ``--cell-timeout nan`` would pass the range check and switch the hang guard off."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def comma_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty stays None."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None
