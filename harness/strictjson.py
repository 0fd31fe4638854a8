"""JSON and JSONL parsing that refuses what Python's json module lets through: ``NaN`` and ``Infinity``
(not JSON), nesting deep enough to raise RecursionError, and JSONL lines cut at U+2028 (which JSON
allows raw inside a string) by ``str.splitlines``. Every reader of user or run files goes through here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from harness.errors import ConfigError

MAX_DEPTH = 64


class JSONRefused(ValueError):
    """A document that is JSON to Python but not acceptable here; the message says why."""


def _no_constant(name: str) -> Any:
    raise JSONRefused(f"non-finite number {name} (write a finite number or null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise JSONRefused(f"number {text} is out of range (not finite)")
    return value


def loads(text: str | bytes) -> Any:
    """Parse one JSON document; NaN/Infinity and nesting deeper than MAX_DEPTH (measured without recursion)
    are refused."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise JSONRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise JSONRefused(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSONL text: split on ``\\n`` only (a trailing ``\\r`` is dropped)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def jsonl_object(line: str, where: str) -> dict[str, Any]:
    """One JSONL line that must be an object of fields; a one-line ConfigError naming ``where``
    (the file and line) when it is not JSON, is refused, or is another kind of value."""
    try:
        doc = loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not JSON ({exc.msg})") from None
    except JSONRefused as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a JSON object of fields, got {type(doc).__name__}")
    return doc
