"""Parsing helpers shared by commands (comma lists, paths)."""

from __future__ import annotations


def comma_list(value: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or empty stays None."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None
