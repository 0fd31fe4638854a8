"""The Python API (harness.run / compare, harness.api.report / gate) on the OpenAI-compatible stub
and on synthetic run directories: typed results, the same one-line errors as the CLI, no collisions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_runs import Cell, flip_correct, outcomes, write_rules, write_run
from openai_stub import openai_stub, stub_catalog
from run_tables import assert_ran

import harness
from harness.api import pipeline
from harness.config.rules import GateRules
from harness.errors import UserError
from harness.runner.lock import RunLock

RULE = {"metric": "accuracy", "max_drop_points": 5}


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.RunResult]:
    """One model on the stub: a perf scenario of three measured requests and a three-item task."""
    root = tmp_path_factory.mktemp("api")
    with openai_stub("stream") as (url, _state):
        catalog = stub_catalog(root / "catalog.yaml", url)
        scenario = {"name": "short", "prompt_tokens": [8], "output_tokens": [4], "requests": 3, "warmup": 1}
        suite = root / "suite.yaml"
        suite.write_text(json.dumps({"name": "stub", "scenarios": [scenario], "tasks": ["arithmetic"], "limit": 3}))
        yield harness.run(suite=str(suite), catalog=catalog, models=["stub"], out=root / "run")


def test_import_harness_stays_light() -> None:
    code = "import sys, harness; print(sorted(m for m in ('pandas', 'click', 'llama_cpp') if m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"
    assert harness.run is harness.api.run and harness.compare is harness.api.compare


def test_run_returns_the_run_directory_tables(stub_run: harness.RunResult) -> None:
    run_dir = assert_ran(stub_run)
    assert not stub_run.interrupted and stub_run.failed_cells == ()
    cells = stub_run.cells.to_pandas()
    assert list(cells["cell_id"]) == ["stub@host"] and list(cells["status"]) == ["ok"]
    requests = stub_run.requests.to_pandas()
    assert (~requests["warmup"].astype(bool)).sum() == 3
    scores = stub_run.scores.to_pandas()
    assert set(scores["task"]) == {"arithmetic"} and (scores["n"] == 3).all()
    assert stub_run.report is not None and stub_run.report.html == run_dir / "report.html"
    assert stub_run.report.html.exists() and stub_run.report.markdown.exists()


def test_bad_input_is_a_one_line_user_error_before_any_run(tmp_path: Path) -> None:
    cases = [
        (dict(models=["nano", "nano"]), "--models: 'nano' is given twice"),
        (dict(tasks=["no-such-task"]), "no-such-task"),
        (dict(limit=0), "limit"),
        (dict(modles=["nano"]), "modles"),
        (dict(resume=tmp_path / "gone"), "no such run directory"),
        (dict(resume=tmp_path, models=["nano"]), "models cannot be combined with resume"),
    ]
    for kwargs, expected in cases:
        with pytest.raises(UserError) as caught:
            harness.run(out=tmp_path / "out", **kwargs)
        assert expected in str(caught.value) and "\n" not in str(caught.value), (kwargs, caught.value)
    assert not (tmp_path / "out").exists()


def test_the_default_run_directory_is_fresh_each_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline.time, "strftime", lambda fmt: "20260101-000000")
    first = pipeline._fresh_run_dir("quick")
    assert first == Path("runs/20260101-000000-quick")
    first.mkdir(parents=True)
    second = pipeline._fresh_run_dir("quick")
    assert second == Path("runs/20260101-000000-quick-2")


def test_report_compare_and_gate(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", [Cell(tasks={"arith": outcomes(200, 0.8)})])
    worse = write_run(tmp_path / "worse", [Cell(tasks={"arith": flip_correct(outcomes(200, 0.8), 40)})])

    paths = harness.api.report(worse, baseline=base)
    assert paths.html.exists() and paths.markdown.exists()
    with pytest.raises(UserError, match="is the run itself"):
        harness.api.report(base, baseline=base)

    compared = harness.compare(base, worse)
    assert compared.to_pandas().set_index("gate_metric").loc["accuracy", "direction"] == -1
    assert [r.gate_metric for r in compared.comparison.regressions] == ["accuracy"]
    with pytest.raises(UserError, match=r"^B: "):
        harness.compare(base, tmp_path / "gone")

    rules = write_rules(tmp_path / "gate.yaml", json.dumps({"rules": [RULE]}))
    assert harness.api.gate(base, base, rules).exit_code == 0
    assert harness.api.gate(worse, base, GateRules.model_validate({"rules": [RULE]})).exit_code == 1
    with pytest.raises(UserError, match="no such run directory"):
        harness.api.gate(tmp_path / "gone", base, rules)


def test_a_run_that_raises_releases_its_lock(
    stub_run: harness.RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook keeps a failed call's frames (``sys.last_traceback``): the lock must not live in them."""
    run_dir = tmp_path / "run"
    shutil.copytree(stub_run.run_dir, run_dir)

    def broken(*args: object) -> None:
        raise RuntimeError("collector broke")

    monkeypatch.setattr(pipeline, "collect", broken)
    with pytest.raises(RuntimeError, match="collector broke") as caught:
        harness.run(resume=run_dir, report=False)
    with RunLock.acquire(run_dir):  # the failed run's frames are still alive in `caught`
        assert caught.value.__traceback__ is not None
