"""The Python API under the CLI: ``run``, ``report``, ``compare``, ``gate`` (docs/api.md).

Each ``tierbench`` command is one of these with option parsing and terminal output around it.
"""

from __future__ import annotations

from harness.api.pipeline import run
from harness.api.readers import RunComparison, compare, gate, report
from harness.api.results import RunResult, RunTable

__all__ = ["RunComparison", "RunResult", "RunTable", "compare", "gate", "report", "run"]
