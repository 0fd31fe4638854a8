"""Fixtures shared across the suite: paths, a CLI runner, and real runs (through the API) per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from run_tables import NANO_RUN_TASKS, assert_ran

import harness

pytest_plugins = ["lanes"]  # parallel lanes, one pinned xdist worker per CPU (tests/lanes.py)

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARKS = REPO.parent / "shared" / "benchmarks"
TESTS_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tests_data() -> Path:
    return TESTS_DATA


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_BENCHMARKS}")
    return SHARED_BENCHMARKS


def run_tierbench(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (as a user would) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def tierbench() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_tierbench


@pytest.fixture(scope="session")
def nano_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the nano model: three of the quick suite's tasks at a small limit plus a short perf point."""
    out = tmp_path_factory.mktemp("runs") / "nano"
    return assert_ran(
        harness.run(suite=str(TESTS_DATA / "tiny-suite.yaml"), models=["nano"], tasks=NANO_RUN_TASKS, limit=5, out=out)
    )


@pytest.fixture(scope="session")
def tiers_run(tmp_path_factory: pytest.TempPathFactory, shared_benchmarks: Path) -> Path:
    """One real run of the default tiers (nano, mini, the live cascade nano-mini; full skipped without a key)
    with the quick suite's latency point (shorter prompts and answers: tests/data/tiers-suite.yaml), on two
    multiple-choice tasks and one generation task.

    Shared by the cascade replay, the live cascade and the gate's self-comparison: each of them used
    to start a run of its own.
    """
    out = tmp_path_factory.mktemp("runs") / "tiers"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_API_KEY", "")
        result = harness.run(suite=str(TESTS_DATA / "tiers-suite.yaml"), data_dir=shared_benchmarks, out=out)
    return assert_ran(result)
