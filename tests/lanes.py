"""Run the suite in parallel lanes, one pytest-xdist worker per CPU, each worker pinned to its own CPU.

Why pinned lanes and not plain ``-n 2``: llama.cpp's threads spin at a barrier, so a 2-thread model
beside any other busy process runs about ten times slower (FIELD_NOTES). A worker pinned to one CPU
makes every real cell it starts see a one-core host: the ``host`` profile, llama.cpp, torch, the
roofline probe and the contention meter all read the affinity, so each lane measures its own core
and never counts the other lane as a neighbour. The suite then uses both cores where it used one
on average (sleeps, imports, fake endpoints, one-thread phases).

A test that needs every CPU (``@pytest.mark.whole_machine``: it projects 2 threads onto 1 core) runs
alone: it takes a writer-preferring exclusive lock that every other test holds shared, and its lane
is given all CPUs for the duration. Such tests are queued last.

Tests that share an expensive session fixture (a real run, a llama.cpp server) are kept on one
worker (``xdist_group``), so no fixture is built twice.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# files whose tests share a session-scoped fixture: one group each, so the fixture is built once
SHARED_FIXTURE_GROUPS = {
    "shared_runs": ["test_cli", "test_browser", "test_gate_real", "test_cascade_live", "test_cascade_real"],
    "llama_server": ["test_load_scenarios", "test_openai_backend", "test_openai_faults", "test_three_backends"],
}
_GROUP_OF = {module: group for group, modules in SHARED_FIXTURE_GROUPS.items() for module in modules}
_ALL_CPUS: set[int] = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def _worker_index() -> int | None:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def _lane_cpus() -> set[int]:
    index = _worker_index()
    if index is None or len(_ALL_CPUS) < 2:
        return _ALL_CPUS
    return {sorted(_ALL_CPUS)[index % len(_ALL_CPUS)]}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One lane per usable CPU (xdist's own 'auto' counts physical cores, which may be fewer)."""
    return max(1, len(_ALL_CPUS))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "whole_machine: needs every CPU; runs alone, after the other tests")
    if _ALL_CPUS and _lane_cpus() != _ALL_CPUS:
        os.sched_setaffinity(0, _lane_cpus())


# seconds each group took in its lane on the 2-core development VM (a run with tests/lanes.py): only the
# order of the queue depends on them, longest first, so the two lanes end together; a group not listed
# counts 10 s per real-model (slow) test and 0.1 s per other test
GROUP_SECONDS = {
    "shared_runs": 165,
    "llama_server": 76,
    "test_ray_executor": 71,
    "test_lm_eval_parity": 55,
    "test_ab": 49,
    "test_ladder": 41,
    "test_resume": 32,
    "test_contention": 31,
    "test_eval_concurrency": 28,
    "test_reasoning": 28,
    "test_native_crash": 27,
    "test_transformers_backend": 26,
    "test_crash_isolation": 24,
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each file's tests form one group (its module fixtures built once), files sharing a session fixture
    one group together; the longest groups are queued first, a group with a whole-machine test last."""
    group_of: dict[str, str] = {}
    seconds: dict[str, float] = {}
    alone: set[str] = set()
    for item in items:
        module = Path(str(item.fspath)).stem
        group = group_of[item.nodeid] = _GROUP_OF.get(module, module)
        item.add_marker(pytest.mark.xdist_group(group))
        seconds[group] = seconds.get(group, 0.0) + (10.0 if item.get_closest_marker("slow") else 0.1)
        if item.get_closest_marker("whole_machine"):
            alone.add(group)
    seconds.update({group: float(value) for group, value in GROUP_SECONDS.items() if group in seconds})
    order = {nodeid: index for index, nodeid in enumerate(item.nodeid for item in items)}
    items.sort(key=lambda item: (group_of[item.nodeid] in alone, -seconds[group_of[item.nodeid]], order[item.nodeid]))


def _lock_dir(config: pytest.Config) -> Path:
    # the same directory for every worker of one session: the controller's base temp's parent
    factory = config._tmp_path_factory  # type: ignore[attr-defined]
    root = factory.getbasetemp()
    return root.parent if _worker_index() is not None else root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Hold the lanes' lock around the whole test, its fixtures' setup and teardown included."""
    whole = item.get_closest_marker("whole_machine") is not None
    folder = _lock_dir(item.config)
    with (folder / "lanes.turnstile").open("a") as turnstile, (folder / "lanes.lock").open("a") as lock:
        if whole:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # new tests of the other lane now wait at the turnstile
            fcntl.flock(lock, fcntl.LOCK_EX)  # and this waits for the one it is running
            if _ALL_CPUS:
                os.sched_setaffinity(0, _ALL_CPUS)
        else:
            fcntl.flock(turnstile, fcntl.LOCK_SH)
            fcntl.flock(lock, fcntl.LOCK_SH)
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            if whole and _ALL_CPUS:
                os.sched_setaffinity(0, _lane_cpus())
            fcntl.flock(lock, fcntl.LOCK_UN)
            if whole:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
