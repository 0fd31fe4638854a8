"""The Ray executor on a real multi-node Ray cluster started on this machine.

One cluster for the module: a head that runs no cells (no CPUs) and two worker nodes with one
CPU each, one of them also offering ``profile:edge-1c-1gb``. One local run and one Ray run of
nano+mini are shared: the Ray run's tables must equal the local run's on every deterministic
column. Then the driver is SIGKILLed mid-cell and ``--resume`` completes the run, and finally a
node is removed under a running cell, which moves to another node with nothing lost or doubled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from run_tables import DETERMINISTIC, IDENTITY, run_tables

pytestmark = [pytest.mark.ray, pytest.mark.slow]
cluster_utils = pytest.importorskip(
    "ray.cluster_utils", reason="ray is not installed (pip install -e '.[ray]'); the Ray executor tests need it"
)

REPO = Path(__file__).resolve().parents[1]
EDGE = "edge-1c-1gb"
UNOFFERED = "raspberry-pi-5-4gb"


# Ray declares a node dead after health_check_failure_threshold missed checks, period_ms apart
# (5 x 3 s by default): the node-removal test waited 15 s of its 24 for that verdict.
FAST_NODE_DEATH = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "4",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as env:  # read by the GCS and raylets the cluster starts
        for name, value in FAST_NODE_DEATH.items():
            env.setenv(name, value)
        yield from _cluster()


def _cluster() -> Iterator[Any]:
    started = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    started.add_node(num_cpus=1)
    started.add_node(num_cpus=1, resources={f"profile:{EDGE}": 1})
    started.wait_for_nodes()
    yield started
    started.shutdown()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray") / "suite.json"
    scenario = {"name": "short", "prompt_tokens": [16], "output_tokens": [8], "requests": 2, "warmup": 1}
    path.write_text(json.dumps({"name": "ray", "tasks": ["arithmetic"], "limit": 2, "scenarios": [scenario]}))
    return path


def _run(*args: str) -> None:
    command = [sys.executable, "-m", "harness.cli.main", "run", *args, "--no-report"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _ray(cluster: Any) -> list[str]:
    return ["--executor", "ray", "--ray-address", cluster.address]


@pytest.fixture(scope="module")
def local_run(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "local"
    _run("--suite", str(suite), "--models", "nano,mini", "--out", str(out))
    return out


@pytest.fixture(scope="module")
def ray_run(cluster: Any, suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "ray"
    profiles = f"host,{UNOFFERED}"
    args = ("--suite", str(suite), "--models", "nano,mini", "--profiles", profiles, "--out", str(out))
    _run(*args, *_ray(cluster), "--ray-wait", "2")  # the unoffered profile is skipped after 2 s, not 60
    return out


def _tables(run: Path, profile: str = "host") -> dict[str, pd.DataFrame]:
    return {name: frame[frame["profile"] == profile] for name, frame in run_tables(run).items()}


def _assert_same(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame], models: list[str]) -> None:
    for name, columns in DETERMINISTIC.items():
        got, want = (
            t[name][t[name]["model"].isin(models)][columns].sort_values(columns[:-1]).reset_index(drop=True)
            for t in (actual, expected)
        )
        pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=name)


def _assert_no_duplicates(tables: dict[str, pd.DataFrame]) -> None:
    for name, key in IDENTITY.items():
        frame = tables[name]
        doubled = frame[frame.duplicated([k for k in key if k in frame.columns], keep=False)]
        assert doubled.empty, f"{name}: duplicated rows\n{doubled}"


def test_ray_tables_equal_local_tables(local_run: Path, ray_run: Path) -> None:
    ray_tables, local_tables = _tables(ray_run), _tables(local_run)
    _assert_same(ray_tables, local_tables, ["nano", "mini"])
    _assert_no_duplicates(ray_tables)
    cells = ray_tables["cells"]
    assert cells["node_id"].notna().all() and cells["hostname"].notna().all()
    assert local_tables["cells"]["hostname"].notna().all()


def test_profile_no_node_offers_is_skipped_with_reason(ray_run: Path) -> None:
    cells = _tables(ray_run, UNOFFERED)["cells"]
    assert list(cells["status"]) == ["skipped", "skipped"]
    assert all(f"profile:{UNOFFERED}" in reason and "waited" in reason for reason in cells["reason"])


def _wait_for_records(cell_dir: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the driver holds at least one streamed request record of the cell."""
    deadline = time.monotonic() + 300
    requests = cell_dir / "requests.jsonl"
    while not (requests.exists() and requests.read_bytes().count(b"\n") >= 1):
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "no record streamed back within 300 s"
        time.sleep(0.1)


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.cli.main", "run", *args, "--no-report"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_resume_after_killing_the_driver(cluster: Any, suite: Path, local_run: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "run", tmp_path / "log.txt"
    process = _start("--suite", str(suite), "--models", "nano", "--out", str(out), *_ray(cluster), log=log)
    _wait_for_records(out / "cells" / "nano@host", process, log)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "cells" / "nano@host" / "status.json").exists(), "the cell finished before the kill"
    _run("--resume", str(out), *_ray(cluster))
    tables = _tables(out)
    _assert_same(tables, _tables(local_run), ["nano"])
    _assert_no_duplicates(tables)


def test_node_removed_mid_run_moves_its_cell(cluster: Any, suite: Path, tmp_path: Path) -> None:
    cluster.add_node(num_cpus=1, resources={f"profile:{EDGE}": 1})
    cluster.wait_for_nodes()
    out, log = tmp_path / "run", tmp_path / "log.txt"
    process = _start(
        "--suite", str(suite), "--models", "nano", "--profiles", EDGE, "--out", str(out), *_ray(cluster), log=log
    )
    cell_dir = out / "cells" / f"nano@{EDGE}"
    _wait_for_records(cell_dir, process, log)
    first = json.loads((cell_dir / "placement.json").read_text())
    (doomed,) = [n for n in cluster.list_all_nodes() if n.node_id == first["node_id"]]
    cluster.remove_node(doomed, allow_graceful=False)
    assert process.wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]
    tables = _tables(out, EDGE)
    _assert_no_duplicates(tables)
    cells = tables["cells"]
    assert list(cells["status"]) == ["ok"]
    assert cells["node_id"].iloc[0] != first["node_id"]  # measured to the end on the surviving node
    assert len(tables["requests"]) == 3 and len(tables["samples"]) == 2  # 1 warm-up + 2 requests; 2 items


def test_unreachable_ray_address_is_one_line_before_any_run_dir(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness.cli.main", "run", "--models", "nano", "--out", str(tmp_path / "run")]
    command += ["--executor", "ray", "--ray-address", "127.0.0.1:1"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--ray-address 127.0.0.1:1" in result.stderr
    assert not (tmp_path / "run").exists()
