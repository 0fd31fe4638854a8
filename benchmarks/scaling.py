"""The same sweep on the local executor and on local Ray clusters of 1 and 2 worker nodes.

Eight cells (four copies each of nano and mini, named nano-1..4 and mini-1..4 in a scratch
catalog) on the one-core ``edge-1c-1gb`` profile, so every cell does the same work whichever
executor runs it (one thread, pinned to one core), a tiny task limit and a short latency
point. The Ray clusters are started on this machine with ``ray.cluster_utils.Cluster``: a head
that runs no cells and N worker nodes with one CPU each offering ``profile:edge-1c-1gb``, so a
node runs one cell at a time. Prints each sweep's wall time (driver start to tables written) and
its ratio to the local executor and to the one-node cluster.

On one machine the nodes share its cores, and a profile pins its cells to the machine's first
cores, so two nodes' cells share a core here: the ratios show Ray's scheduling and streaming
overhead and the overlap of loading with measuring, not a real cluster's speed-up (one node per
machine, where each cell has its machine to itself).

    python benchmarks/scaling.py [--copies 4] [--limit 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = "edge-1c-1gb"


def _catalog(path: Path, copies: int) -> list[str]:
    from harness.catalog import default_catalog

    base = {m.name: m for m in default_catalog().models}
    models = []
    for name in ("nano", "mini"):
        for i in range(1, copies + 1):
            models.append({**base[name].model_dump(mode="json", exclude_none=True), "name": f"{name}-{i}"})
    path.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
    return [m["name"] for m in models]


def _sweep(out: Path, catalog: Path, suite: Path, names: list[str], extra: list[str]) -> float:
    command = [sys.executable, "-m", "harness.cli.main", "run", "--suite", str(suite), "--catalog", str(catalog)]
    command += ["--models", ",".join(names), "--profiles", PROFILE, "--out", str(out), "--no-report", *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sweep into {out} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def _ray_sweep(workers: int, out: Path, catalog: Path, suite: Path, names: list[str]) -> float:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=1, resources={f"profile:{PROFILE}": 1})
        cluster.wait_for_nodes()
        return _sweep(out, catalog, suite, names, ["--executor", "ray", "--ray-address", cluster.address])
    finally:
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="Copies of nano and of mini (cells = 2 x copies).")
    parser.add_argument("--limit", type=int, default=2, help="Items per task.")
    parser.add_argument("--keep", type=Path, help="Keep the three run directories here.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tierbench-scaling-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        names = _catalog(root / "catalog.yaml", args.copies)
        suite = root / "suite.json"
        scenario = {"name": "short", "prompt_tokens": [16], "output_tokens": [8], "requests": 2, "warmup": 1}
        suite.write_text(
            json.dumps({"name": "scaling", "tasks": ["arithmetic"], "limit": args.limit, "scenarios": [scenario]})
        )
        stamp = time.strftime("%H%M%S")
        times = {"local": _sweep(root / f"local-{stamp}", root / "catalog.yaml", suite, names, [])}
        for workers in (1, 2):
            times[f"ray x{workers}"] = _ray_sweep(
                workers, root / f"ray{workers}-{stamp}", root / "catalog.yaml", suite, names
            )
    print(f"{len(names)} cells (nano/mini x {args.copies}) on {PROFILE}, limit {args.limit}")
    for label, seconds in times.items():
        print(
            f"{label:8s} {seconds:7.1f} s   vs local {times['local'] / seconds:5.2f}x"
            f"   vs ray x1 {times.get('ray x1', seconds) / seconds:5.2f}x"
        )


if __name__ == "__main__":
    main()
