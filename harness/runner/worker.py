"""The cell worker: one fresh process per (model, profile) cell (``python -m harness.runner.worker SPEC.json``).

It appends every record to ``RUN/cells/<cell_id>/`` as it goes and ends with an atomic ``status.json``
(its ``CellResult``), so a worker that dies leaves its records behind for the parent and ``--resume``.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.backends import canary
from harness.backends.base import Backend
from harness.backends.registry import check_model, create_backend
from harness.errors import BackendUnavailable, ModelLoadError, UserError
from harness.meters.contention import ContentionMeter
from harness.meters.energy import select_meter
from harness.meters.gpu import GpuMemory, gpu_memory
from harness.meters.memory import MemorySampler
from harness.meters.roofline import probe_columns
from harness.results.files import append_jsonl, atomic_write_bytes, atomic_write_json, jsonl_line, read_jsonl
from harness.results.layout import CellFiles, RunLayout
from harness.results.schema import CellResult, CellStatus, dump_record
from harness.runner.cell import CellSpec
from harness.runner.events import NODE_ID_VARIABLE, EventChannel
from harness.runner.limits import (
    NO_LIMIT,
    MemoryWatchdog,
    apply_cpu_limits,
    format_cpus,
    memory_mechanism_note,
    observed_cpus,
)
from harness.runner.scenarios import count_requests, request_key, run_scenario
from harness.secrets import RedactingStream, clip, use_params

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class FileSink:
    """The evaluation sink of a cell: appends samples, scores and LM responses to jsonl files.

    A task is done only once ``finish`` recorded it: other tasks' samples and scores are a killed
    worker's leftovers, dropped on resume and rewritten cheaply from the stored LM responses.
    """

    def __init__(self, files: CellFiles, events: EventChannel) -> None:
        self.files = files
        self.events = events
        self._responses = {r["key"]: r["value"] for r in read_jsonl(files.responses)}
        done = json.loads(files.tasks_done.read_text(encoding="utf-8")) if files.tasks_done.exists() else []
        self._finished_tasks: set[str] = set(done)
        self._current: str | None = None
        for path in (files.samples, files.scores):
            _keep_records(path, lambda r: r.get("task") in self._finished_tasks)

    def task_done(self, task: str) -> bool:
        return task in self._finished_tasks

    def finish(self, tasks: list[str]) -> None:
        """Mark ``tasks`` complete: their samples and scores are all on disk."""
        self._finished_tasks.update(tasks)
        atomic_write_json(self.files.tasks_done, sorted(self._finished_tasks))

    def sample(self, record: dict[str, Any]) -> None:
        self._append(self.files.samples, record)

    def score(self, row: dict[str, Any]) -> None:
        self._append(self.files.scores, row)

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        # tasks run one after another: the first record of a task closes the previous one
        task = record.get("task")
        if self._current is not None and task != self._current:
            self.finish([self._current])
        self._current = str(task) if task is not None else None
        append_jsonl(path, record)

    def progress(self, label: str, done: int, total: int) -> None:
        self.events.send("progress", label=label, done=done, total=total)

    def cached(self, key: str) -> Any | None:
        return self._responses.get(key)

    def store(self, key: str, value: Any) -> None:
        self._responses[key] = value
        append_jsonl(self.files.responses, {"key": key, "value": value})


def _run_scenarios(backend: Backend, spec: CellSpec, files: CellFiles, events: EventChannel) -> None:
    done = {request_key(r) for r in read_jsonl(files.requests)}
    total, counter = count_requests(spec.scenarios), itertools.count(len(done) + 1)

    def on_request(record: dict[str, Any]) -> None:
        append_jsonl(files.requests, record)
        events.send("progress", label="latency", done=next(counter), total=total)

    finished_load = {r.get("scenario") for r in read_jsonl(files.load_summary)}
    for scenario in spec.scenarios:
        if scenario.name in finished_load:  # a resumed cell: this load scenario already completed
            continue
        fresh = scenario.kind != "grid" or scenario.target_ci is not None  # run again whole
        if fresh:  # a load scenario cut off mid-way: drop the requests its first attempt recorded
            _keep_records(files.requests, lambda r: r.get("scenario") != scenario.name)  # noqa: B023 (called at once)
        summary = run_scenario(backend, scenario, seed=spec.seed, on_request=on_request, done=set() if fresh else done)
        if summary is not None:
            append_jsonl(files.load_summary, {"scenario": scenario.name, "summary": summary})


def _keep_records(path: Path, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite a jsonl file (atomically, only when something goes) without the records ``keep`` rejects."""
    records = read_jsonl(path)
    kept = [r for r in records if keep(r)]
    if len(kept) < len(records):
        atomic_write_bytes(path, b"".join(jsonl_line(r) for r in kept))


def _run_tasks(backend: Backend, spec: CellSpec, files: CellFiles, events: EventChannel) -> dict[str, Any]:
    """Evaluate the cell's unfinished tasks; the CellResult columns of how concurrently they ran."""
    from harness.evaluation import run_tasks

    sink = FileSink(files, events)
    pending = [t for t in spec.tasks if not sink.task_done(t)]
    if not pending:
        return {}
    stats = run_tasks(
        backend,
        pending,
        limit=spec.limit,
        seed=spec.seed,
        data_dir=Path(spec.data_dir) if spec.data_dir else None,
        sink=sink,
        self_check=spec.self_check,
        concurrency=spec.eval_concurrency,
    )
    sink.finish(pending)
    if not stats.requests:  # every response came from the resume cache
        return {}
    return {"eval_concurrency_used": stats.peak_in_flight, "throttled_requests": stats.throttled_requests}


def _cpu_time_s() -> float:
    """User + system CPU seconds of this cell's process and any children it waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_cell(spec: CellSpec) -> CellResult:
    """Do the cell's work and return what it measured (the parent adds how the process ended)."""
    files = RunLayout(Path(spec.run_dir)).cell(spec.cell_id)
    events = EventChannel()
    limits = apply_cpu_limits(spec.profile)
    watchdog = MemoryWatchdog(spec.profile.memory_mb, files.over_budget) if spec.enforce_memory else None
    notes = limits.notes + ([memory_mechanism_note()] if watchdog is not None else [])
    result = CellResult(
        hostname=socket.gethostname(),
        node_id=os.environ.get(NODE_ID_VARIABLE) or None,  # set by the Ray executor's task
        threads=limits.threads,
        cpus=format_cpus(limits.cpus),
        limit_mechanism=watchdog.mechanism if watchdog is not None else NO_LIMIT,
    )
    meter = select_meter(spec.profile, native=spec.emulated_on is None)
    gpu: GpuMemory | None = None
    started = time.time()
    contention = ContentionMeter()  # after the limits: it watches the CPUs the cell was given
    with MemorySampler(on_sample=watchdog) as memory, contention:
        meter.start()
        try:
            if unavailable := check_model(spec.model):  # again here: the cell may run on another machine
                raise BackendUnavailable(unavailable)
            if spec.safe_retry:
                canary.force_safe(spec.safe_retry)
                result.retried_after = spec.safe_retry
            backend = create_backend(spec.model)  # the one place a backend is built
            result.native_fallback = "; ".join(canary.fallbacks_taken()) or None
            events.send("phase", name="loading")
            t0 = time.perf_counter()
            backend.load()
            result.model_load_s = time.perf_counter() - t0
            result.cpus = format_cpus(observed_cpus())  # every thread, the runtime's pool included
            result.load_time_s = time.time() - spec.spawn_time if spec.spawn_time else result.model_load_s
            result.backend_info = backend.describe()
            # a model's own thread count (a catalog n_threads, e.g. an n_threads variant) over the profile's
            own_threads = result.backend_info.get("n_threads")
            if isinstance(own_threads, int) and own_threads > 0:
                result.threads = own_threads
            result.model_file_mb = result.backend_info.get("model_file_mb")
            result.model_path = result.backend_info.get("model_path")
            result.weights_dtype = result.backend_info.get("weights_dtype")
            if spec.scenarios:
                events.send("phase", name="latency")
                _run_scenarios(backend, spec, files, events)
                if result.model_path:
                    # this machine's roofline under the same threads, CPUs and load (harness.projection);
                    # only a local model file is ever projected, so a remote API cell skips it
                    result = result.model_copy(update=probe_columns(result.threads or limits.threads))
            # the model's own footprint while serving, before the evaluation stack is imported
            memory.sample()
            result = result.model_copy(update={f"serving_{k}": v for k, v in memory.result.columns().items()})
            if spec.tasks:
                events.send("phase", name="accuracy")
                result = result.model_copy(update=_run_tasks(backend, spec, files, events))
            # NVML counts what the process holds now, not a peak: read it while the model is still
            # loaded (a closed llama.cpp model has already handed its GPU buffers back)
            gpu = gpu_memory()
            backend.close()
        except BackendUnavailable as exc:
            result.status, result.reason = CellStatus.SKIPPED, clip(str(exc), 2000)
        except (UserError, ModelLoadError) as exc:
            result.status, result.reason = CellStatus.FAILED, clip(str(exc), 2000)
        except Exception as exc:
            traceback.print_exc()
            result.status, result.reason = CellStatus.FAILED, clip(f"{type(exc).__name__}: {exc}", 500)
        finally:
            reading = meter.stop()
    peak = memory.result
    # the kernel syncs per-thread RSS counters lazily, so an earlier reading can exceed a later VmHWM
    peaks = [v for v in (peak.peak_rss_mb, result.serving_peak_rss_mb) if v is not None]
    return CellResult.model_validate(
        {
            **result.model_dump(),
            **peak.columns(),
            "peak_rss_mb": max(peaks) if peaks else None,
            **reading.columns(),
            **(gpu or gpu_memory()).columns(),
            **contention.result.columns(),
            "cpu_time_s": _cpu_time_s(),
            "duration_s": time.time() - started,
            "notes": "; ".join(notes),
        }
    )


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when ``tierbench run`` dies, even by SIGKILL: an orphan would
    go on measuring on a busy machine and race the ``--resume`` that follows."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent was gone before the request took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    _die_with_parent()
    spec_path = Path(argv[1])
    spec = CellSpec.model_validate_json(spec_path.read_text(encoding="utf-8"))
    # before anything is written: every file, event and log line of this process is redacted
    use_params([spec.model.params])
    sys.stderr, sys.stdout = RedactingStream(sys.stderr), RedactingStream(sys.stdout)
    atomic_write_json(CellFiles(spec_path.parent).result, dump_record(run_cell(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
