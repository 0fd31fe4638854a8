"""Model-written code runs contained: loops, memory, writes outside, network all end as failures."""

from __future__ import annotations

from pathlib import Path

from harness.evaluation.scorers import code_tests
from harness.sandbox import Limits, run_python

LIMITS = Limits(wall_s=4.0, cpu_s=2, memory_mb=256)


def test_good_code_passes() -> None:
    assert run_python("assert sum([1, 2]) == 3", LIMITS).passed


def test_infinite_loop_is_stopped() -> None:
    result = run_python("while True:\n    pass", LIMITS)
    assert not result.passed and result.status == "timeout" and result.seconds < 4.5


def test_runaway_memory_is_capped() -> None:
    result = run_python("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))", LIMITS)
    assert not result.passed and result.status == "memory"


def test_write_outside_the_sandbox_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    result = run_python(f"open({str(target)!r}, 'w').write('x')", LIMITS)
    assert not result.passed and result.status == "blocked"
    assert not target.exists()


def test_delete_outside_the_sandbox_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("keep")
    result = run_python(f"import os\nos.remove({str(victim)!r})", LIMITS)
    assert not result.passed and victim.exists()


def test_network_call_is_refused() -> None:
    code = "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)"
    result = run_python(code, LIMITS)
    assert not result.passed and result.status == "blocked"


def test_subprocess_is_refused() -> None:
    result = run_python("import subprocess\nsubprocess.run(['true'])", LIMITS)
    assert not result.passed and result.status == "blocked"


def test_writes_inside_the_sandbox_work_and_vanish() -> None:
    result = run_python("open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read() == 'ok'", LIMITS)
    assert result.passed


def test_code_scorer_scores_crashing_and_hanging_answers_as_wrong() -> None:
    doc = {"prompt": "def add(a, b):\n", "tests": ["assert add(2, 3) == 5"]}
    assert code_tests(doc, ["    return a + b\n"]) == {"pass": 1.0}
    assert code_tests(doc, ["    return a - b\n"]) == {"pass": 0.0}
    assert code_tests(doc, ["    while True: pass\n"]) == {"pass": 0.0}
    assert code_tests(doc, ["    raise SystemExit(0)\n"]) == {"pass": 0.0}  # exits before the tests finish
    assert code_tests(doc, ["    import os; os._exit(0)\n"]) == {"pass": 0.0}
    assert code_tests(doc, ["return (((\n"]) == {"pass": 0.0}
