"""What two runs of the same plan must agree on, and how a test reads a run's tables (resume, Ray, API)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.api import RunResult
from harness.results import RunStore

# the shared nano run's tasks (tests/conftest.py nano_run, and the gate's runs beside it): three of the quick
# suite's kinds of answer (a number, a label, JSON); every quick task is scored on both real models in
# tests/test_builtin_tasks.py
NANO_RUN_TASKS = ["arithmetic", "sentiment", "json_extraction"]

# columns that do not depend on timing: equal between an interrupted-and-resumed (or distributed)
# run and an uninterrupted local one
DETERMINISTIC = {
    "cells": ["model", "profile", "status"],
    "scores": ["model", "task", "metric", "value", "n"],
    "samples": ["model", "task", "doc_id", "response", "correct"],
    "requests": ["model", "scenario", "point", "repetition", "index", "warmup", "prompt_tokens", "output_tokens"],
}
# the key of a row: a row written twice (by a resume, or by two nodes) repeats it
IDENTITY = {
    "scores": ["model", "profile", "task", "metric"],
    "samples": ["model", "profile", "task", "doc_id", "filter"],
    "requests": ["model", "profile", "scenario", "point", "repetition", "index"],
}


def run_tables(run: Path) -> dict[str, pd.DataFrame]:
    """cells, scores, requests and samples of a finished run."""
    store = RunStore.open(run)
    tables = {name: store.read_table(name) for name in ("cells", "scores", "requests")}
    tables["samples"] = pd.DataFrame(store.read_samples())
    return tables


def assert_ran(result: RunResult) -> Path:
    """A run that exited 0; otherwise the cells' statuses and reasons as the failure message."""
    cells = result.cells.to_pandas()
    assert result.exit_code == 0, cells[["cell_id", "status", "reason"]].to_dict("records")
    return result.run_dir
