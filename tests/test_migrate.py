"""Run directories an older tierbench wrote: upgraded on read where they can be, one line where not."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from gate_runs import Cell, outcomes, write_rules, write_run

from harness.cli.main import cli
from harness.errors import UserError
from harness.results import RunStore
from harness.results.migrate import upgrade_meta
from harness.results.schema import SCHEMA_VERSION
from harness.results.snapshot import from_run

RULES = """\
bootstrap_iterations: 200
rules:
  - metric: accuracy
    max_drop_points: 1
  - metric: ttft_p95
    max_increase_pct: 50
"""
# columns the schema-1 writers added after the unversioned run directories of schema 0
NEWER = {
    "cells": ["cpu_time_s", "contended", "native_fallback", "retried_after", "eval_concurrency_used"],
    "requests": ["stop_reason", "median_ci_rel", "scheduled_s", "dispatch_delay_s"],
}


def _unversioned(run: Path, drop: tuple[str, ...] = ()) -> Path:
    """``run`` rewritten as schema 0 wrote it: no version, run_id or backends in meta.json, no newer columns."""
    meta_path = run / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for key in ("schema_version", "run_id", "backends", "finished_at", *drop):
        meta.pop(key, None)
    for key in ("cell_timeout_s", "eval_concurrency"):
        meta["options"].pop(key, None)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    for table, columns in NEWER.items():
        path = run / f"{table}.parquet"
        frame = pd.read_parquet(path)
        assert set(columns) <= set(frame.columns)
        frame.drop(columns=columns).to_parquet(path, index=False)
    return run


def test_an_unversioned_run_is_upgraded_and_read_by_report_and_gate(tmp_path: Path) -> None:
    items = outcomes(60, 0.6)
    base = write_run(tmp_path / "base", [Cell(tasks={"arith": items}, latency_seed=1)])
    old = _unversioned(write_run(tmp_path / "old-run", [Cell(tasks={"arith": items}, latency_seed=2)]))

    meta = RunStore.open(old).read_meta()
    assert (meta.schema_version, meta.run_id, meta.backends) == (SCHEMA_VERSION, "old-run", {})
    assert meta.options.cell_timeout_s == 3600.0
    assert RunStore.open(old).read_table("requests")["stop_reason"].isna().all()  # not measured then
    snapshot = from_run(old)
    assert len(snapshot.items) == 60 and not snapshot.requests.empty

    report = CliRunner().invoke(cli, ["report", str(old)])
    assert report.exit_code == 0, report.output
    assert "nano" in (old / "report.md").read_text(encoding="utf-8")

    rules = write_rules(tmp_path / "gate.yaml", RULES)
    for run, baseline in ((old, base), (base, old)):
        gate = CliRunner().invoke(
            cli,
            ["gate", str(run), "--baseline", str(baseline), "--rules", str(rules)],
            env={"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": ""},
        )
        assert gate.exit_code == 0, gate.output
        assert "PASS" in gate.output


@pytest.mark.parametrize(
    ("drop", "version", "expected"),
    [
        (("host",), None, ("meta.json", "schema version 0", "field 'host'", "cannot be filled in")),
        ((), SCHEMA_VERSION + 1, ("meta.json", f"'schema_version' is {SCHEMA_VERSION + 1}", "re-run")),
        ((), "1", ("meta.json", "'schema_version' is '1'", "re-run")),
    ],
)
def test_a_run_no_step_can_upgrade_gives_one_line(
    tmp_path: Path, drop: tuple[str, ...], version: object, expected: tuple[str, ...]
) -> None:
    old = _unversioned(write_run(tmp_path / "run"), drop)
    if version is not None:
        meta = json.loads((old / "meta.json").read_text(encoding="utf-8"))
        (old / "meta.json").write_text(json.dumps({**meta, "schema_version": version}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(old)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and all(part in lines[0] for part in expected), result.output


def test_a_current_record_is_left_as_it_is() -> None:
    data = {"schema_version": SCHEMA_VERSION, "run_id": "r"}
    assert upgrade_meta(data, Path("meta.json")) is data
    with pytest.raises(UserError, match="'schema_version' is True"):
        upgrade_meta({"schema_version": True}, Path("meta.json"))
