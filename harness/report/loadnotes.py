"""Sentences about load points for the terminal and the report: knees, over-saturation, a client that
fell behind, and what multi-turn sessions gained over a cold prompt of the same length."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def _seconds(value: Any) -> str:
    return "—" if not isinstance(value, int | float) or math.isnan(value) else f"{value:.3f} s"


def _where(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(k) for k in ("model", "profile", "scenario", "repetition"))


def point_notes(row: dict[str, Any]) -> list[str]:
    """Lines for one load point: a sweep's knee, over-saturation, a client that sent late."""
    where = f"{row.get('model')}@{row.get('profile')} {row.get('scenario')} {row.get('point')}"
    notes = [f"{where}: knee of the sweep (highest rate below over-saturation)"] if row.get("knee") else []
    if row.get("saturated"):
        notes.append(f"{where}: over-saturated (completions fell behind the rate while TTFT grew)")
    if row.get("client_limited"):
        notes.append(
            f"{where}: client-limited — requests left {_seconds(row.get('dispatch_delay_p95_s'))} late (p95) against "
            f"a median TTFT of {_seconds(row.get('ttft_p50_s'))}; these figures are the client's, and the gate "
            "withholds its latency verdicts"
        )
    return notes


def session_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per sessions scenario: the last turn's median TTFT against a cold prompt of the same length."""
    notes = []
    for cold in (r for r in rows if r.get("kind") == "sessions" and str(r.get("point", "")).startswith("cold")):
        shape = str(cold["point"]).removeprefix("cold")
        same = [r for r in rows if _where(r) == _where(cold)]
        turns = [r for r in same if str(r.get("point", "")).startswith("turn=") and str(r["point"]).endswith(shape)]
        if not turns:
            continue
        last = max(turns, key=lambda r: int(str(r["point"]).split()[0].removeprefix("turn=")))
        warm, cold_ttft = last.get("ttft_p50_s"), cold.get("ttft_p50_s")
        if not (isinstance(warm, int | float) and isinstance(cold_ttft, int | float) and warm > 0 and cold_ttft > 0):
            continue
        verdict = "below" if warm < cold_ttft else "not below"
        notes.append(
            f"{cold.get('model')}@{cold.get('profile')} {cold.get('scenario')}: {last['point']} median TTFT "
            f"{_seconds(warm)} is {verdict} a cold prompt of the same length ({_seconds(cold_ttft)}, "
            f"{(1 - warm / cold_ttft):+.0%} saved by reusing the conversation's prefix)"
        )
    return notes
