"""A backend whose native code crashes on this machine: canary, fallback, retry, provenance and exit codes.

The crash is real (the process kills itself with SIGSEGV, as llama.cpp's AMX kernels do on some
Xeons), the backend is a test double installed as a real plugin, so this runs on every CPU. The
llama.cpp canary on the real models is checked in test_canary_real.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_install import install_plugin

from harness.backends import canary
from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.registry import create_backend, get_plugin
from harness.cli.main import cli
from harness.config.models import ModelSpec
from harness.results.store import RunStore

REPO = Path(__file__).resolve().parents[1]

CRASHY = """
    import os
    import signal
    import sys
    from typing import Literal

    from pydantic import BaseModel, ConfigDict

    from harness.backends.base import Capabilities, Chunk
    from harness.backends.plugin import BackendPlugin, NativeGuard

    class CrashyParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kernels: Literal["auto", "fast", "safe"] = "auto"
        # fast: the fast kernels crash anywhere; always: both crash; worker: only a cell worker crashes
        # (the canary passes) unless it runs safe; worker-always: a cell worker crashes whatever it runs
        crash: Literal["fast", "always", "worker", "worker-always", "never"] = "fast"
        log: str

    class Crashy:
        capabilities = Capabilities(loglikelihood=True)

        def __init__(self, spec, params):
            self.name, self.params = spec.name, params

        def load(self):
            with open(self.params.log, "a") as log:  # one line per load: who loaded it, with which kernels
                log.write(f"{sys.argv[0].rsplit('/', 1)[-1]} {self.params.kernels}\\n")

        def _maybe_crash(self):
            in_worker = "worker" in sys.argv[0]
            crash = self.params.crash
            if (
                crash == "always"
                or (crash == "fast" and self.params.kernels != "safe")
                or (crash == "worker" and in_worker and self.params.kernels != "safe")
                or (crash == "worker-always" and in_worker)
            ):
                os.kill(os.getpid(), signal.SIGSEGV)

        def stream(self, request, usage):
            self._maybe_crash()
            words = request.prompt.split()[: request.max_tokens] or ["x"]
            for word in words:
                yield Chunk(word + " ")
            usage.prompt_tokens, usage.output_tokens = len(request.prompt.split()), len(words)

        def loglikelihood(self, requests):
            self._maybe_crash()
            return [(-1.0, True) for _ in requests]

        def loglikelihood_rolling(self, texts):
            return [-1.0 for _ in texts]

        def count_tokens(self, text):
            return len(text.split())

        def make_prompt(self, n_tokens, seed):
            return " ".join(["word"] * n_tokens)

        def describe(self):
            return {"backend": "crashy", "kernels": self.params.kernels}

        def close(self):
            pass

    plugin = BackendPlugin(
        name="crashy",
        params_model=CrashyParams,
        check=lambda spec, params: None,
        create=Crashy,
        capabilities=Crashy.capabilities,
        guard=NativeGuard(
            facts=lambda spec, params: {"crash": params.crash},
            undecided=lambda params: params.kernels == "auto",
            fast=lambda params: params.model_copy(update={"kernels": "fast"}),
            safe=lambda params: params.model_copy(update={"kernels": "safe"}),
            disabled="crashy fast kernels",
            advice="try another machine",
        ),
    )
"""

SUITE = {
    "name": "crashy",
    "scenarios": [
        {"name": "short", "kind": "grid", "prompt_tokens": [8], "output_tokens": [4], "requests": 2, "warmup": 1}
    ],
}


@pytest.fixture
def crashy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The crashing plugin installed, and a cache of canary verdicts of this test's own."""
    install_plugin(tmp_path, monkeypatch, "crashy_backend", CRASHY, "crashy = crashy_backend:plugin")
    monkeypatch.setenv("TIERBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def run(tmp: Path, crash: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``tierbench run`` of one crashy model in its own process (the executor and workers are real)."""
    catalog = tmp / "catalog.json"
    model = {
        "name": "crashy",
        "tier": "nano",
        "backend": "crashy",
        "params": {"crash": crash, "log": str(tmp / "loads")},
    }
    catalog.write_text(json.dumps({"models": [model]}), encoding="utf-8")
    suite = tmp / "suite.json"
    suite.write_text(json.dumps(SUITE), encoding="utf-8")
    out = tmp / f"run-{crash}-{len(list(tmp.glob('run-*')))}"
    args = ["--suite", str(suite), "--catalog", str(catalog), "--models", "crashy", "--tasks", "", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "run", *args, *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, out


def loads(tmp: Path) -> list[str]:
    return (tmp / "loads").read_text().splitlines()


def test_fast_kernels_that_crash_are_turned_off_recorded_shown_and_the_run_succeeds(crashy: Path) -> None:
    done, out = run(crashy, "fast")
    assert done.returncode == 0, done.stdout + done.stderr
    cell = RunStore.open(out).read_table("cells").iloc[0]
    assert cell["status"] == "ok"
    assert cell["native_fallback"] == (
        "crashy fast kernels disabled for crashy: they crashed on this CPU (canary: crashed: SIGSEGV)"
    )
    assert "crashy fast kernels disabled for crashy" in " ".join(done.stdout.split())  # the terminal summary
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "crashy fast kernels disabled for crashy: they crashed on this CPU" in html
    assert "crashy fast kernels disabled" in (out / "report.md").read_text(encoding="utf-8")
    # the canary tried fast then safe in its own processes; the worker ran safe only
    assert loads(crashy) == ["canary_child.py fast", "canary_child.py safe", "worker.py safe"]

    # the verdict is cached: a second run starts no canary, and still records why the kernels are off
    (crashy / "loads").unlink()
    again, out2 = run(crashy, "fast", "--no-report")
    assert again.returncode == 0
    assert loads(crashy) == ["worker.py safe"]
    assert "crashed on this CPU" in RunStore.open(out2).read_table("cells").iloc[0]["native_fallback"]


def test_a_backend_that_crashes_with_its_safe_settings_too_fails_the_cell_with_one_line(crashy: Path) -> None:
    done, out = run(crashy, "always")
    assert done.returncode == 1, done.stdout + done.stderr
    cell = RunStore.open(out).read_table("cells").iloc[0]
    assert cell["status"] == "failed"
    assert cell["reason"] == (
        "crashy: crashy crashes in native code on this machine with crashy fast kernels (crashed: SIGSEGV) "
        "and without them (crashed: SIGSEGV); try another machine"
    )
    assert "1 of 1 cells failed" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert (out / "report.html").exists() and (out / "cells.parquet").exists()  # still written


def test_a_worker_killed_by_a_signal_is_retried_once_with_the_safest_settings(crashy: Path) -> None:
    done, out = run(crashy, "worker")
    assert done.returncode == 0, done.stdout + done.stderr
    cell = RunStore.open(out).read_table("cells").iloc[0]
    assert cell["status"] == "ok"
    assert cell["retried_after"] == "worker killed by SIGSEGV while latency"
    assert "retried with the safest settings (worker killed by SIGSEGV while latency)" in cell["native_fallback"]
    assert loads(crashy) == ["canary_child.py fast", "worker.py fast", "worker.py safe"]
    requests = RunStore.open(out).read_table("requests")
    assert len(requests) == 3  # warm-up + 2, measured once, by the retry (the crashed attempt's records dropped)
    assert "ran again with the safest settings after its worker crashed" in (out / "report.html").read_text()


def test_a_second_crash_fails_the_cell_with_both_reasons_and_the_run_exits_non_zero(crashy: Path) -> None:
    done, out = run(crashy, "worker-always")
    assert done.returncode == 1, done.stdout + done.stderr
    cell = RunStore.open(out).read_table("cells").iloc[0]
    assert cell["status"] == "failed"
    assert cell["reason"] == (
        "worker killed by SIGSEGV while latency, again after a retry with the safest settings "
        "(first: worker killed by SIGSEGV while latency)"
    )
    assert loads(crashy) == ["canary_child.py fast", "worker.py fast", "worker.py safe"]  # exactly one retry


def test_resume_exits_non_zero_while_a_cell_still_fails(crashy: Path) -> None:
    done, out = run(crashy, "always", "--no-report")
    assert done.returncode == 1
    resumed = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "run", "--resume", str(out), "--no-report"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "1 of 1 cells failed" in resumed.stdout


def test_in_process_builds_are_behind_the_canary(crashy: Path) -> None:
    """A test or notebook that builds the backend itself gets the safe kernels: the crash stays in the canary."""
    spec = ModelSpec(
        name="inproc", tier="nano", backend="crashy", params={"crash": "fast", "log": str(crashy / "loads")}
    )
    backend = create_backend(spec)
    backend.load()
    chunks = list(backend.stream(GenerationRequest(prompt="one two", max_tokens=2), StreamUsage()))
    assert [chunk.text for chunk in chunks] == ["one ", "two "]
    assert backend.describe()["kernels"] == "safe"
    assert backend.loglikelihood([("a", " b")]) == [(-1.0, True)]  # would have killed this test process
    assert any("disabled for inproc" in line for line in canary.fallbacks_taken())


def test_doctor_reports_each_guarded_model_before_any_run(crashy: Path) -> None:
    catalog = crashy / "doctor.json"
    models = [
        {"name": f"c-{mode}", "tier": "nano", "backend": "crashy", "params": {"crash": mode, "log": str(crashy / "l")}}
        for mode in ("never", "fast", "always")
    ]
    catalog.write_text(json.dumps({"models": models}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["doctor", "--json", "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    found = {c["name"]: c for c in json.loads(result.output)["capabilities"] if c["group"] == "native code"}
    assert found["c-never (crashy)"]["available"] is True
    assert found["c-never (crashy)"]["detail"].startswith("works, crashy fast kernels on")
    assert found["c-fast (crashy)"]["detail"].startswith(
        "works only without crashy fast kernels: they crash here (crashed: SIGSEGV); runs turn them off"
    )
    assert found["c-always (crashy)"]["available"] is False
    assert found["c-always (crashy)"]["detail"].startswith("crashes (crashed: SIGSEGV; without crashy fast kernels")
    assert get_plugin("crashy").guard is not None
