"""Run directories: column declarations, crash-safe files and the table store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.results.store import RunStore

__all__ = ["RunStore"]


def __getattr__(name: str) -> Any:
    # RunStore needs pandas; import it on first use so light users (the cell worker) stay light.
    if name == "RunStore":
        from harness.results.store import RunStore

        return RunStore
    raise AttributeError(name)
