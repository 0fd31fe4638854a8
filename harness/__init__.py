"""tierbench: which model tier (nano, mini, full) should run this workload on this hardware.

``harness.run`` and ``harness.compare`` are the API's (docs/api.md); its ``report`` and ``gate`` are
``harness.api.report`` and ``harness.api.gate``, since ``harness.report`` and ``harness.gate`` name
the packages that implement them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.api import RunComparison, RunResult, RunTable, compare, run

__version__ = "0.1.0"
__all__ = ["RunComparison", "RunResult", "RunTable", "compare", "run"]


def __getattr__(name: str) -> Any:
    # `import harness` stays cheap (the cell worker imports it): the API, and pandas with it, loads on first use
    if name == "api" or name in __all__:
        import harness.api

        return harness.api if name == "api" else getattr(harness.api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
