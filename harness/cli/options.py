"""Parsing helpers shared by commands (comma lists, finite numbers, output paths)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from harness.config.loading import first_duplicate
from harness.errors import UserError


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that refuses nan and inf: NaN compares false with every bound, so
    ``--cell-timeout nan`` would pass the range check and switch the hang guard off."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


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


def comma_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty stays None."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def refuse_duplicates(flag: str, names: list[str] | None) -> None:
    """Results are keyed by name: ``--tasks a,a`` would merge two runs of one task into one row."""
    twice = first_duplicate(names or [])
    if twice is not None:
        raise UserError(f"{flag}: '{twice}' is given twice; name each once")
