"""Killing ``tierbench run`` anywhere and resuming gives the tables of a run never interrupted.

One small real run (nano and mini, two generation tasks at a tiny limit, a short latency
scenario) is done once straight through. Then the same run is SIGKILLed — its whole process
group, workers included, as an OOM killer or a lost CI runner would — at seeded random moments,
resumed with ``--resume`` after each kill, and finally allowed to finish. Its tables must equal
the straight run's on every deterministic column, with nothing duplicated and nothing lost.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from run_tables import DETERMINISTIC, IDENTITY, run_tables

from harness.results import RunStore

REPO = Path(__file__).resolve().parents[1]
SEED = 20251122
KILLS = 3


def _suite(path: Path) -> Path:
    scenario = {"name": "short", "prompt_tokens": [16], "output_tokens": [8], "requests": 2, "warmup": 1}
    suite = {"name": "resume", "tasks": ["arithmetic", "sentiment"], "limit": 3, "scenarios": [scenario]}
    path.write_text(json.dumps(suite), encoding="utf-8")
    return path


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.cli.main", "run", *args, "--no-report"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the test kills tierbench and its workers
        )


def _finish(process: subprocess.Popen[bytes], log: Path) -> None:
    code = process.wait(timeout=600)
    assert code == 0, log.read_text(encoding="utf-8", errors="replace")[-3000:]


def _progress(run: Path) -> str:
    """Where a kill landed: per cell, finished or not and how many records each file holds."""
    parts = []
    for cell in sorted((run / "cells").glob("*")) if (run / "cells").is_dir() else []:
        counts = {
            name: (cell / f"{name}.jsonl").read_bytes().count(b"\n") if (cell / f"{name}.jsonl").exists() else 0
            for name in ("requests", "responses", "samples", "scores")
        }
        done = "done" if (cell / "status.json").exists() else "open"
        parts.append(f"{cell.name} {done} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return "; ".join(parts) or "no cell started"


def _deterministic(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    columns = DETERMINISTIC[name]
    view = frame[columns].astype(str)  # one type per column, whatever parquet inferred
    return view.sort_values(columns).reset_index(drop=True)


def _work_done(run: Path) -> int:
    """Units of work on disk: perf requests, LM responses and finished cells."""
    total = 0
    for cell in (run / "cells").glob("*") if (run / "cells").is_dir() else []:
        for name in ("requests.jsonl", "responses.jsonl"):
            path = cell / name
            total += path.read_bytes().count(b"\n") if path.exists() else 0
        total += (cell / "status.json").exists()
    return total


@pytest.mark.slow
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite.yaml")
    args = ("--suite", str(suite), "--models", "nano,mini")
    log = tmp_path / "tierbench.log"
    straight = tmp_path / "straight"
    _finish(_start(*args, "--out", str(straight), log=log), log)

    # Kill points: one random amount of finished work in each third of the run (seeded), then a
    # random few tenths of a second more, so kills land between records and in the middle of writes.
    rng = random.Random(SEED)
    total = _work_done(straight)
    bounds = [round(total * k / KILLS) for k in range(KILLS + 1)]
    targets = [rng.randint(max(1, lo), max(1, hi - 1)) for lo, hi in itertools.pairwise(bounds)]
    killed = tmp_path / "killed"
    landed = []
    for attempt, target in enumerate(targets):
        command = ("--resume", str(killed)) if attempt else (*args, "--out", str(killed))
        process = _start(*command, log=log)
        deadline = time.monotonic() + 300
        while process.poll() is None and _work_done(killed) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.3))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            landed.append(f"kill {attempt + 1} at {_work_done(killed)}/{total}: {_progress(killed)}")
        process.wait(timeout=60)
    print("\n".join(landed))  # shown when the test fails (or with -s)
    assert len(landed) == KILLS, landed
    _finish(_start("--resume", str(killed), log=log), log)

    assert RunStore.open(killed).read_meta().status == "complete"
    want, got = run_tables(straight), run_tables(killed)
    assert set(want["cells"]["status"]) == {"ok"}
    for name, columns in IDENTITY.items():
        assert not got[name].duplicated(columns).any(), f"{name}: rows written twice across resumes"
    for name in DETERMINISTIC:
        pd.testing.assert_frame_equal(_deterministic(name, got[name]), _deterministic(name, want[name]), obj=name)
