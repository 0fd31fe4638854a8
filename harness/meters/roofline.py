"""This machine's own roofline: memory bandwidth and FP32 compute, measured with N workers.

A projection carries the host's efficiency against its roofline to a device it never ran on, so the
roofline is measured as the cell ran: same threads, same pinned CPUs, same neighbours, in a child
process (``python -m harness.meters.roofline THREADS``) so its buffers stay out of the cell's peak.
Bandwidth is a STREAM-style copy far larger than the last-level cache, compute single-threaded-BLAS
FP32 matmuls. Worker processes run in lockstep with a *spinning* barrier, as ggml's threads do, so a
neighbour taking one core slows all of them as it slows llama.cpp (independent workers or a sleeping
barrier would hide it). The median of a few tries is kept: the host's typical state, not its best.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing as mp
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Step sizes follow the phase each figure stands for, since the barrier cost per unit of work is
# what a busy host adds: decode runs hundreds of small operations per token (tens of µs each),
# prefill fewer, larger matrix products over a whole batch (milliseconds each).
COPY_MIB = 128  # in total, split across the workers; 4x the 32 MiB L3 of the development VM
STEPS = 128  # 64 MiB per worker of two in 128 steps: ~0.05 ms of copying per step, decode-sized
GEMM_N = 256
GEMM_STEPS = 80  # 34 MFLOP per step: ~0.5 ms at ~60 GFLOP/s, an average prefill operation of a small model
TRIES = 3


@dataclass(frozen=True)
class Roofline:
    """Sustained figures of this machine with ``threads`` workers in lockstep."""

    threads: int
    bandwidth_gbs: float
    gflops: float
    seconds: float
    # one worker's bandwidth measured in the same minute: more workers moving less than one means
    # other processes held the cores (the host was oversubscribed), not that the memory is slow
    single_bandwidth_gbs: float | None = None


Step = Callable[[int], None]


def _spin_until(arrived: Any, target: int) -> None:
    """Spin (never sleep) until every worker has finished step ``target``."""
    view = np.frombuffer(arrived.get_obj(), dtype=np.int64)
    while int(view.min()) < target:
        pass


def _worker(kind: str, index: int, workers: int, steps: int, tries: int, arrived: Any, out: Any) -> None:
    step = _make_step(kind, workers)
    mine = np.frombuffer(arrived.get_obj(), dtype=np.int64)
    count = 0
    for t in range(tries):
        count += 1  # everyone ready: start together
        mine[index] = count
        _spin_until(arrived, count)
        start = time.perf_counter()
        for k in range(steps):
            step(k)
            count += 1
            mine[index] = count
            _spin_until(arrived, count)
        if index == 0:
            out[t] = time.perf_counter() - start


def _huge_pages(n: int) -> NDArray[np.float64]:
    """``n`` doubles in memory backed by transparent huge pages where the kernel offers them.

    Faulting in fresh 4 KiB pages ran at ~90 MB/s on a cloud VM: two thirds of the probe's time went
    to first touch, not to the copy it measures. Huge pages fault 512 times less often."""
    size = n * 8
    buffer = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        buffer.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(buffer, dtype=np.float64, count=n)


def _make_step(kind: str, workers: int) -> Step:
    if kind == "copy":
        n = COPY_MIB * 2**20 // 8 // workers
        source, target = _huge_pages(n), _huge_pages(n)
        source.fill(1.0)
        edges = np.linspace(0, n, STEPS + 1).astype(int)

        def copy(k: int) -> None:
            np.copyto(target[edges[k] : edges[k + 1]], source[edges[k] : edges[k + 1]])

        return copy
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    rng = np.random.default_rng(0)
    a = rng.random((GEMM_N, GEMM_N), dtype=np.float32)
    b = rng.random((GEMM_N, GEMM_N), dtype=np.float32)
    a @ b  # first call pays for BLAS initialisation

    def product(k: int) -> None:
        a @ b

    return product


def _lockstep_seconds(kind: str, workers: int, steps: int) -> float:
    """Median wall seconds for ``workers`` processes to do ``steps`` steps each, spinning at a barrier after each."""
    context = mp.get_context("fork")
    arrived: SynchronizedArray[Any] = context.Array("q", workers)
    out: SynchronizedArray[Any] = context.Array("d", TRIES)
    pool = [
        context.Process(target=_worker, args=(kind, i, workers, steps, TRIES, arrived, out)) for i in range(workers)
    ]
    for process in pool:
        process.start()
    for process in pool:
        process.join()
    return statistics.median(float(out[i]) for i in range(TRIES))


def copy_bandwidth(threads: int) -> float:
    """GB/s moved (read + write) by ``threads`` workers in lockstep, each copying its share of COPY_MIB."""
    n = COPY_MIB * 2**20 // 8 // threads * threads
    return 2 * n * 8 / _lockstep_seconds("copy", threads, STEPS) / 1e9


def gemm_gflops(threads: int) -> float:
    """GFLOP/s of FP32 matrix products in lockstep, one single-threaded BLAS call per worker per step."""
    return threads * GEMM_STEPS * 2 * GEMM_N**3 / _lockstep_seconds("gemm", threads, GEMM_STEPS) / 1e9


def measure(threads: int) -> Roofline:
    """Both figures for ``threads`` workers (a few seconds on a small machine)."""
    start = time.perf_counter()
    bandwidth = copy_bandwidth(threads)
    gflops = gemm_gflops(threads)
    single = copy_bandwidth(1) if threads > 1 else None
    return Roofline(threads, bandwidth, gflops, time.perf_counter() - start, single)


def probe_columns(threads: int, timeout_s: float = 120.0) -> dict[str, float | str]:
    """The cells-table columns of a probe run in a child process; one that cannot run leaves
    ``roofline_error`` (a projection then says why it has no host roofline)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness.meters.roofline", str(threads)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
        found = asdict(Roofline(**json.loads(done.stdout.strip().splitlines()[-1])))
        # every figure but the probe's own duration, as roofline_<field>; one not measured is left out
        return {f"roofline_{k}": float(v) for k, v in found.items() if k != "seconds" and v is not None}
    except (OSError, subprocess.SubprocessError, ValueError, TypeError, IndexError) as exc:
        return {"roofline_error": f"roofline probe failed: {type(exc).__name__}"}


def main(argv: list[str]) -> int:
    threads = int(argv[1]) if len(argv) > 1 else 1
    print(json.dumps(asdict(measure(max(threads, 1)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
