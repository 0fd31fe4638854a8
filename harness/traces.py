"""Request traces (CSV or JSONL) for ``kind: trace``, read as a stream so a 1 GB trace is never held whole.

A row has an arrival time and prompt text or a prompt token count, optionally an output token count
and a session id. Public traces' columns are understood as they are: Azure's (``TIMESTAMP,
ContextTokens, GeneratedTokens``, ISO date-times), BurstGPT's (seconds) and Mooncake's (milliseconds).
Every bad row is a one-line ``UserError`` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.strictjson import jsonl_object

# accepted column names, compared without case, spaces or punctuation
_TIME = ("timestamp", "arrival_s", "arrival_time", "time")
_PROMPT_TOKENS = ("prompt_tokens", "ContextTokens", "input_length", "Request tokens", "input_tokens")
_OUTPUT_TOKENS = ("output_tokens", "GeneratedTokens", "output_length", "Response tokens")
_PROMPT = ("prompt", "text")
_SESSION = ("session_id", "session", "conversation_id")
_MILLISECONDS = "inputlength"  # Mooncake's traces count time in milliseconds


@dataclass(frozen=True)
class TraceRequest:
    """One request of a trace; ``at_s``: when to send it, in replay seconds after the first one."""

    at_s: float
    prompt: str | None
    prompt_tokens: int | None
    output_tokens: int | None
    session: str | None
    line: int


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def trace_path(name: str, base: Path | None = None) -> Path:
    """A trace file by path (a relative one beside the suite file ``base`` first, then from the
    working directory), else by name among the traces shipped with tierbench."""
    path = Path(name).expanduser()
    for candidate in ([base / path] if base and not path.is_absolute() else []) + [path]:
        if candidate.is_file():
            return candidate.resolve()
    shipped = Path(str(files("harness.tasks"))) / "traces"
    if (shipped / name).is_file():
        return shipped / name
    have = ", ".join(sorted(p.name for p in shipped.glob("*") if p.suffix in (".csv", ".jsonl")))
    raise UserError(f"trace '{name}' is not a file (shipped traces: {have or 'none'})")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) one at a time: CSV with a header, or one JSON object a line."""
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.read(1)
        handle.seek(0)
        if path.suffix in (".jsonl", ".json") or first == "{":
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                yield number, jsonl_object(text, f"{path} line {number}")
        else:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, dict(row)


def _column(path: Path, row: dict[str, Any], names: tuple[str, ...], what: str | None) -> str | None:
    by_key = {_key(k): k for k in row if isinstance(k, str)}
    found = next((by_key[_key(n)] for n in names if _key(n) in by_key), None)
    if found is None and what is not None:
        raise UserError(f"{path}: no {what} column (one of {', '.join(names)}); it has {', '.join(map(str, row))}")
    return found


def _seconds(path: Path, line: int, field: str, value: Any) -> float:
    text = str(value).strip()  # a JSON number's text is its exact value
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise UserError(f"{path} line {line}: {field} {text!r} is neither a number nor a date-time") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise UserError(f"{path} line {line}: {field} {value!r} is negative or not finite")
    return seconds


def _count(path: Path, line: int, field: str | None, row: dict[str, Any]) -> int | None:
    if field is None or row.get(field) in (None, ""):
        return None
    value = row[field]
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not number.is_integer() or number < 1:
        raise UserError(f"{path} line {line}: {field} {value!r} is not a whole number of tokens (1 or more)")
    return int(number)


def read_trace(
    path: Path, *, time_scale: float = 1.0, window_s: tuple[float, float] | None = None
) -> Iterator[TraceRequest]:
    """The trace's requests in order, replay times scaled by ``time_scale`` (0.5: twice as fast) and
    cut to ``window_s`` (trace seconds after its first request, start inclusive, end exclusive)."""
    rows = _rows(path)
    start: float | None = None
    previous = 0.0
    for line, row in rows:
        if start is None:  # the first row names the columns
            time_field = _column(path, row, _TIME, "arrival-time")
            prompt_field = _column(path, row, _PROMPT, None)
            tokens_field = _column(path, row, _PROMPT_TOKENS, None if prompt_field else "prompt text or prompt token")
            output_field = _column(path, row, _OUTPUT_TOKENS, None)
            session_field = _column(path, row, _SESSION, None)
            unit = 1e-3 if tokens_field is not None and _key(tokens_field) == _MILLISECONDS else 1.0
        assert time_field is not None
        at = _seconds(path, line, time_field, row.get(time_field)) * unit
        if start is None:
            start = previous = at
        if at < previous:
            raise UserError(f"{path} line {line}: {time_field} goes back in time; sort the trace by arrival time")
        previous = at
        offset = at - start
        if window_s is not None and offset >= window_s[1]:
            return
        if window_s is not None and offset < window_s[0]:
            continue
        prompt = row.get(prompt_field) if prompt_field else None
        if prompt in (None, "") and (tokens_field is None or row.get(tokens_field) in (None, "")):
            raise UserError(f"{path} line {line}: neither prompt text nor a prompt token count")
        yield TraceRequest(
            at_s=(offset - (window_s[0] if window_s else 0.0)) * time_scale,
            prompt=str(prompt) if prompt not in (None, "") else None,
            prompt_tokens=_count(path, line, tokens_field, row),
            output_tokens=_count(path, line, output_field, row),
            session=str(row[session_field]) if session_field and row.get(session_field) not in (None, "") else None,
            line=line,
        )
    if start is None:
        raise UserError(f"{path}: the trace has no requests")


def check_trace(path: Path, rows: int = 1000) -> None:
    """Read the head of a trace so that a bad file fails when the suite loads, not in a worker."""
    for count, _ in enumerate(read_trace(path), start=1):
        if count >= rows:
            return
