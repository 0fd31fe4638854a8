"""Cascade replay: "nano first, escalate when unsure", measured from a run's per-item samples.

A reader of the run directory like the report and the gate: it never imports a backend.
"""

from __future__ import annotations

from harness.cascade.replay import ReplayConfig, ReplayResult, replay_run, write_outputs
from harness.cascade.verdict import Goal

__all__ = ["Goal", "ReplayConfig", "ReplayResult", "replay_run", "write_outputs"]
