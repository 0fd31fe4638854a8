"""The command line as a user meets it: help everywhere, one-line errors, failed cells recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli.main import COMMAND_MODULES, cli
from harness.results import RunStore


def _walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*prefix, name))


def test_every_command_module_is_registered() -> None:
    ctx = click.Context(cli)
    assert all(getattr(cli.get_command(ctx, name), "name", None) == name for name in COMMAND_MODULES)


@pytest.mark.parametrize("path", [(), *_walk(cli)], ids=lambda p: " ".join(p) or "tierbench")
def test_help_works_for_every_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _one_line_error(result: object, exit_code: int = 2) -> str:
    assert getattr(result, "returncode", None) == exit_code, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    err = result.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_unknown_model_is_a_one_line_error(tierbench, tmp_path: Path) -> None:
    err = _one_line_error(tierbench("run", "--models", "nanoo", "--out", str(tmp_path / "r")))
    assert "--models" in err and "nanoo" in err


def test_unknown_suite_is_a_one_line_error(tierbench, tmp_path: Path) -> None:
    err = _one_line_error(tierbench("run", "--suite", "quik", "--out", str(tmp_path / "r")))
    assert "--suite" in err and "quik" in err


def test_unwritable_output_directory_is_a_one_line_error(tierbench, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    err = _one_line_error(tierbench("run", "--models", "nano", "--out", str(blocker / "run")))
    assert "--out" in err


@pytest.mark.slow
def test_a_model_that_fails_to_load_is_recorded_and_the_others_complete(
    tierbench, tests_data: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "models:\n"
        "  - name: broken\n    tier: mini\n    backend: llamacpp\n"
        f"    params: {{model_path: {json.dumps(str(broken))}}}\n"
    )
    out = tmp_path / "run"
    result = tierbench(
        "run",
        "--suite",
        str(tests_data / "tiny-suite.yaml"),
        "--catalog",
        str(catalog),
        "--models",
        "nano,broken",
        "--tasks",
        "",
        "--out",
        str(out),
    )
    assert result.returncode == 1, result.stderr  # a corrupt GGUF fails its cell, and so the run
    assert "1 of 2 cells failed (broken@host)" in " ".join(result.stdout.split())
    assert (out / "report.html").exists() and (out / "report.md").exists()  # written all the same
    cells = RunStore.open(out).read_table("cells").set_index("model")
    assert cells.loc["nano", "status"] == "ok"
    assert cells.loc["broken", "status"] == "failed"
    assert "broken.gguf" in cells.loc["broken", "reason"]
    assert "broken" in result.stdout


@pytest.mark.slow
def test_run_writes_tables_meta_report_and_summary(nano_run: Path) -> None:
    store = RunStore.open(nano_run)
    meta = store.read_meta()
    assert meta.status == "complete"
    assert meta.host["cpu_model"] and meta.host["packages"]["tierbench"]
    assert meta.host["llama_cpp"].get("version")
    cells = store.read_table("cells")
    assert list(cells["model"]) == ["nano"] and cells.loc[0, "status"] == "ok"
    for column in ("load_time_s", "peak_rss_mb", "peak_anon_mb", "peak_file_mb", "energy_j_low", "energy_j_high"):
        assert pd.notna(cells.loc[0, column]) and cells.loc[0, column] > 0, column
    assert cells.loc[0, "energy_source"] in {"estimate", "rapl", "nvml"}
    requests = store.read_table("requests")
    measured = requests[~requests["warmup"]]
    assert len(measured) == 2 and int(requests["warmup"].sum()) == 1
    assert (measured["output_tokens"] == 8).all()
    assert (measured["ttft_s"] > 0).all() and (measured["e2e_s"] > measured["ttft_s"]).all()
    scores = store.read_table("scores")
    assert not scores.empty and scores["stderr"].notna().any()
    assert (scores["n"].dropna() <= 5).all()
    assert store.read_samples(), "per-sample records are written"
    assert (nano_run / "report.html").is_file()
