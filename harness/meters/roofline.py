"""This machine's own roofline: memory bandwidth and FP32 compute, measured with N threads.

A projection carries the host's measured efficiency (tokens/s against its roofline) over to a
device it never ran on, so the host's roofline must be measured the way the cell ran: the same
thread count, the same pinned CPUs, under the same load from other processes. The worker runs
``python -m harness.meters.roofline THREADS`` in a child process (so the probe's buffers never
enter the cell's own memory peak) right after its perf scenarios.

Bandwidth is a STREAM-style copy (bytes read + bytes written per second) of a buffer far larger
than the last-level cache; compute is single-precision matrix multiplication with one BLAS thread
per worker thread. Both keep the median of a few repetitions: the host's typical state while the
cell ran, not its best moment (STREAM keeps the best, which on a shared machine flatters).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

COPY_MIB = 256
STEPS = 64  # 256 MiB in 64 steps: ~0.3 ms of copying per step on a DRAM-bound core
GEMM_N = 192
GEMM_STEPS = 48  # ~0.2 ms of FP32 products per step at ~60 GFLOP/s
TRIES = 5


@dataclass(frozen=True)
class Roofline:
    """Sustained figures of this machine with ``threads`` threads."""

    threads: int
    bandwidth_gbs: float
    gflops: float
    seconds: float


def _run_in_lockstep(threads: int, steps: int, step: Callable[[int, int], None]) -> float:
    """Wall seconds for ``threads`` threads to do ``steps`` steps each, meeting at a barrier after every step.

    llama.cpp's threads meet after every operation of the graph, so a thread that loses its core
    to another process holds up the rest; independent threads would hide that. Measured in
    lockstep, the probe sees the machine the way the cell's runtime saw it.
    """
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        for k in range(steps):
            step(index, k)
            barrier.wait()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def copy_bandwidth(threads: int, mib: int = COPY_MIB, steps: int = STEPS) -> float:
    """GB/s moved (read + write) by ``threads`` threads copying disjoint slices of one buffer in lockstep."""
    n = mib * 2**20 // 8
    source = np.ones(n)
    target = np.empty(n)
    edges = np.linspace(0, n, threads * steps + 1).astype(int)

    def step(index: int, k: int) -> None:
        a, b = edges[k * threads + index], edges[k * threads + index + 1]
        np.copyto(target[a:b], source[a:b])

    best = statistics.median(_run_in_lockstep(threads, steps, step) for _ in range(TRIES))
    return 2 * n * 8 / best / 1e9


def gemm_gflops(threads: int, n: int = GEMM_N, steps: int = GEMM_STEPS) -> float:
    """GFLOP/s of FP32 matrix products in lockstep, one single-threaded BLAS call per thread per step."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)

    def step(index: int, k: int) -> None:
        a @ b

    with threadpool_limits(1):
        a @ b  # first call pays for BLAS initialisation
        best = statistics.median(_run_in_lockstep(threads, steps, step) for _ in range(TRIES))
    return threads * steps * 2 * n**3 / best / 1e9


def measure(threads: int) -> Roofline:
    """Both figures for ``threads`` threads (about a second on a small machine)."""
    start = time.perf_counter()
    bandwidth = copy_bandwidth(threads)
    gflops = gemm_gflops(threads)
    return Roofline(threads, bandwidth, gflops, time.perf_counter() - start)


def probe_columns(threads: int, timeout_s: float = 60.0) -> dict[str, float | str]:
    """The cells-table columns of a probe run in a child process (its memory stays out of ours).

    A probe that cannot run leaves ``roofline_error`` instead: a projection then says why it
    has no host roofline, and the cell's own figures are untouched.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness.meters.roofline", str(threads)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        return {
            "roofline_threads": float(found["threads"]),
            "roofline_bandwidth_gbs": float(found["bandwidth_gbs"]),
            "roofline_gflops": float(found["gflops"]),
        }
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError) as exc:
        return {"roofline_error": f"roofline probe failed: {type(exc).__name__}"}


def main(argv: list[str]) -> int:
    threads = int(argv[1]) if len(argv) > 1 else 1
    print(json.dumps(asdict(measure(max(threads, 1)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
