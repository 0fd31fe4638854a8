"""Run directories: column declarations and an atomic, resumable store."""

from harness.results.store import RunStore

__all__ = ["RunStore"]
