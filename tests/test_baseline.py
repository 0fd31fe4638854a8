"""Baseline files: compact, deterministic, and refused loudly when damaged."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from gate_runs import Cell, write_run

from harness.cli.main import cli
from harness.errors import UserError
from harness.gate.baseline import _encode_table, encode, load, load_any, save
from harness.results.snapshot import from_run


def test_save_and_load_keep_what_the_gate_needs(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [Cell(energy_range=0.2), Cell(model="mini", tier="mini", repetitions=2)])
    path = tmp_path / "base.json.gz"
    saved = save(run, path)
    loaded = load(path)
    for table in ("cells", "items", "requests"):
        expected = getattr(saved, table).reset_index(drop=True)
        got = getattr(loaded, table)[list(expected.columns)]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert loaded.meta["run_id"] == "run"
    assert len(loaded.requests) == 30 + 60  # measured requests only, warm-ups dropped
    assert not loaded.requests["ttft_s"].isna().any()
    # compact: well under the run directory's own size
    run_bytes = sum(p.stat().st_size for p in run.rglob("*") if p.is_file())
    assert path.stat().st_size < run_bytes / 2


def test_same_run_gives_the_same_bytes(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    assert encode(from_run(run)) == encode(from_run(run))


def test_tables_are_stored_as_plain_json_values() -> None:
    """NaN and every pandas missing value become null, numpy scalars plain numbers: the checksum
    covers these bytes, so they are pinned (the same as the per-value loop this encoding replaced)."""
    frame = pd.DataFrame(
        {
            "f": [1.5, float("nan")],
            "i": [1, 2],
            "b": [True, False],
            "s": pd.array(["x", None], dtype="string"),
            "n": pd.array([4, None], dtype="Int64"),
            "o": pd.Series(["y", None], dtype=object),
        }
    )
    assert json.dumps(_encode_table(frame), allow_nan=False) == (
        '{"f": [1.5, null], "i": [1, 2], "b": [true, false], "s": ["x", null], "n": [4, null], "o": ["y", null]}'
    )


def test_a_run_directory_can_serve_as_baseline(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    assert len(load_any(run).items) == 60


def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "not gzip":
        path.write_text("{}")
    elif how == "edited":
        document = json.loads(gzip.decompress(raw))
        document["payload"]["items"]["outcome"][0] = 1.0 - document["payload"]["items"]["outcome"][0]
        path.write_bytes(gzip.compress(json.dumps(document).encode()))
    elif how == "other format":
        path.write_bytes(gzip.compress(json.dumps({"hello": 1}).encode()))
    elif how == "future version":
        document = json.loads(gzip.decompress(raw))
        document["version"] = 99
        path.write_bytes(gzip.compress(json.dumps(document).encode()))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "corrupted or not a tierbench baseline"),
        ("not gzip", "corrupted or not a tierbench baseline"),
        ("edited", "checksum mismatch"),
        ("other format", "not a tierbench baseline"),
        ("future version", "version 99 is not supported"),
    ],
)
def test_damaged_baselines_are_refused(tmp_path: Path, how: str, message: str) -> None:
    path = tmp_path / "base.json.gz"
    save(write_run(tmp_path / "run"), path)
    _damage(path, how)
    with pytest.raises(UserError, match=message) as caught:
        load(path)
    assert "\n" not in str(caught.value)


def test_missing_baseline_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found; create it with 'tierbench baseline save"):
        load(tmp_path / "nope.json.gz")


def test_baseline_cli_save_and_show(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [Cell(), Cell(model="full", tier="full", status="skipped")])
    runner = CliRunner()
    saved = runner.invoke(cli, ["baseline", "save", str(run), "--to", str(tmp_path / "b.json.gz")])
    assert saved.exit_code == 0, saved.output
    assert "2 cells, 60 items, 30 requests" in saved.output
    shown = runner.invoke(cli, ["baseline", "show", str(tmp_path / "b.json.gz")])
    assert shown.exit_code == 0
    assert "nano: nano@host (ok): 60 items (arith), 30 requests" in shown.output
    assert "full: full@host (skipped)" in shown.output
    assert "measured on: Intel(R) Xeon(R) Processor (AMX, 2 cores)\n" in shown.output
    missing = runner.invoke(cli, ["baseline", "save", str(tmp_path / "nowhere"), "--to", str(tmp_path / "x.gz")])
    assert missing.exit_code == 2
    assert "no such run directory" in missing.output
