"""Built-in tasks: data equal to the seeded generator's output, valid files, and real model runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.evaluation import MemorySink, list_tasks, run_tasks
from harness.evaluation.taskdefs import discover, get_taskdef, read_docs

REPO = Path(__file__).resolve().parents[1]
BUILTIN = [
    "factual_qa",
    "arithmetic",
    "word_problems",
    "sentiment",
    "moderation",
    "json_extraction",
    "summarization",
    "instruction_following",
    "code_generation",
]


def test_committed_data_equals_the_seeded_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tasks" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_task_loads_with_verifiable_answers(name: str) -> None:
    task = get_taskdef(name)
    docs = read_docs(task, None)
    assert task.kind == "builtin" and len(docs) >= 12 and task.about
    assert not task.needs_loglikelihood  # generation only: runs on chat APIs too


def test_task_names_are_unique_and_listed() -> None:
    names = [info.name for info in list_tasks(None)]
    assert sorted(names) == sorted(discover()) and len(set(names)) == len(names)
    assert set(BUILTIN) <= set(names)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["nano", "mini"])
def test_quick_tasks_score_on_real_models(model: str) -> None:
    """Base (mini) and instruct (nano) models both get most short facts right with these prompts."""
    backend = create_backend(next(m for m in default_catalog().models if m.name == model))
    backend.load()
    sink = MemorySink()
    run_tasks(backend, ["factual_qa", "code_generation"], limit=6, seed=0, data_dir=None, sink=sink)
    backend.close()
    facts = sink.value("factual_qa", "exact_match")
    assert facts is not None and facts >= 0.5
    code = next(r for r in sink.scores if r["task"] == "code_generation")
    assert code["status"] == "ok" and code["n"] == 6
    samples = [s for s in sink.samples if s["task"] == "factual_qa"]
    assert all(s["output_tokens"] >= 1 and s["latency_s"] > 0 for s in samples)
