"""The cell worker: one fresh process per (model, profile) cell.

``python -m harness.runner.worker CELL_SPEC.json`` applies the profile's limits, loads the
backend, runs the perf scenarios and the tasks with every request measured, and writes
everything to ``RUN/cells/<cell_id>/`` as it goes (jsonl appends), finishing with an atomic
``status.json``. A worker that dies leaves its appended records behind for the parent and for
``--resume``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from harness.backends.base import Backend
from harness.backends.registry import create_backend
from harness.errors import BackendUnavailable, ModelLoadError, UserError
from harness.meters.energy import EnergyMeter, EnergyReading, select_meter
from harness.meters.gpu import gpu_memory
from harness.meters.memory import MemorySampler
from harness.meters.roofline import probe_columns
from harness.results.files import append_jsonl, atomic_write_bytes, atomic_write_json, read_jsonl
from harness.runner.cell import CellSpec
from harness.runner.events import EventChannel
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


class CellFiles:
    """Paths of a cell's scratch directory."""

    def __init__(self, cell_dir: Path) -> None:
        self.dir = cell_dir
        self.requests = cell_dir / "requests.jsonl"
        self.samples = cell_dir / "samples.jsonl"
        self.scores = cell_dir / "scores.jsonl"
        self.responses = cell_dir / "responses.jsonl"
        self.status = cell_dir / "status.json"
        self.over_budget = cell_dir / "over_budget.json"
        self.log = cell_dir / "worker.log"
        self.spec = cell_dir / "spec.json"
        self.tasks_done = cell_dir / "tasks_done.json"


class FileSink:
    """The evaluation sink of a cell: appends samples, scores and LM responses to jsonl files.

    A task counts as done only once ``finish`` recorded it. Samples and scores of any other task
    are leftovers of a killed worker: they are dropped on resume and written again (from the
    stored LM responses, so cheaply), never duplicated or left with a metric missing.
    """

    def __init__(self, files: CellFiles, events: EventChannel) -> None:
        self.files = files
        self.events = events
        self._responses = {r["key"]: r["value"] for r in read_jsonl(files.responses)}
        self._finished_tasks: set[str] = set()
        self._current: str | None = None
        if files.tasks_done.exists():
            self._finished_tasks = set(json.loads(files.tasks_done.read_text(encoding="utf-8")))
        for path in (files.samples, files.scores):
            self._drop_unfinished(path)

    def _drop_unfinished(self, path: Path) -> None:
        records = read_jsonl(path)
        keep = [r for r in records if r.get("task") in self._finished_tasks]
        if len(keep) < len(records):
            body = "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in keep)
            atomic_write_bytes(path, body.encode("utf-8"))

    def task_done(self, task: str) -> bool:
        return task in self._finished_tasks

    def finish(self, tasks: list[str]) -> None:
        """Mark ``tasks`` complete: their samples and scores are all on disk."""
        self._finished_tasks.update(tasks)
        atomic_write_json(self.files.tasks_done, sorted(self._finished_tasks))

    def sample(self, record: dict[str, Any]) -> None:
        self._next(record)
        append_jsonl(self.files.samples, record)

    def score(self, row: dict[str, Any]) -> None:
        self._next(row)
        append_jsonl(self.files.scores, row)

    def _next(self, record: dict[str, Any]) -> None:
        # tasks run one after another: the first record of a task closes the previous one
        task = record.get("task")
        if self._current is not None and task != self._current:
            self.finish([self._current])
        self._current = str(task) if task is not None else None

    def progress(self, label: str, done: int, total: int) -> None:
        self.events.send("progress", label=label, done=done, total=total)

    def cached(self, key: str) -> Any | None:
        return self._responses.get(key)

    def store(self, key: str, value: Any) -> None:
        self._responses[key] = value
        append_jsonl(self.files.responses, {"key": key, "value": value})


def _run_scenarios(backend: Backend, spec: CellSpec, files: CellFiles, events: EventChannel) -> None:
    done = {request_key(r) for r in read_jsonl(files.requests)}
    total = count_requests(spec.scenarios)
    counter = {"n": len(done)}

    def on_request(record: dict[str, Any]) -> None:
        append_jsonl(files.requests, record)
        counter["n"] += 1
        events.send("progress", label="latency", done=counter["n"], total=total)

    summaries = files.dir / "load_summary.jsonl"
    finished_load = {r.get("scenario") for r in read_jsonl(summaries)}
    for scenario in spec.scenarios:
        if scenario.name in finished_load:  # a resumed cell: this load scenario already completed
            continue
        if scenario.kind != "grid":
            _drop_partial_scenario(files, scenario.name)
        summary = run_scenario(backend, scenario, seed=spec.seed, on_request=on_request, done=done)
        if summary is not None:
            append_jsonl(summaries, {"scenario": scenario.name, "summary": summary})


def _drop_partial_scenario(files: CellFiles, scenario: str) -> None:
    """A load scenario cut off mid-way is run again whole; drop the requests its first attempt recorded."""
    records = read_jsonl(files.requests)
    kept = [r for r in records if r.get("scenario") != scenario]
    if len(kept) != len(records):
        body = "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in kept)
        atomic_write_bytes(files.requests, body.encode("utf-8"))


def _run_tasks(backend: Backend, spec: CellSpec, files: CellFiles, events: EventChannel) -> None:
    from harness.evaluation import run_tasks

    sink = FileSink(files, events)
    pending = [t for t in spec.tasks if not sink.task_done(t)]
    if pending:
        run_tasks(
            backend,
            pending,
            limit=spec.limit,
            seed=spec.seed,
            data_dir=Path(spec.data_dir) if spec.data_dir else None,
            sink=sink,
            self_check=spec.self_check,
        )
        sink.finish(pending)


def run_cell(spec: CellSpec) -> dict[str, Any]:
    """Do the cell's work and return its status row (without the parent's bookkeeping)."""
    files = CellFiles(Path(spec.run_dir) / "cells" / spec.cell_id)
    events = EventChannel()
    limits = apply_cpu_limits(spec.profile)
    notes = list(limits.notes)
    watchdog = None
    if spec.enforce_memory:
        watchdog = MemoryWatchdog(spec.profile.memory_mb, files.over_budget).start()
        notes.append(memory_mechanism_note())
    row: dict[str, Any] = {
        "status": "ok",
        "reason": "",
        "threads": limits.threads,
        "cpus": format_cpus(limits.cpus),
        "limit_mechanism": watchdog.mechanism if watchdog is not None else NO_LIMIT,
    }
    meter: EnergyMeter = select_meter(spec.profile, native=spec.emulated_on is None)
    reading: EnergyReading | None = None
    started = time.time()
    with MemorySampler() as memory:
        meter.start()
        try:
            backend = create_backend(spec.model)
            unavailable = backend.check()
            if unavailable:
                raise BackendUnavailable(unavailable)
            events.send("phase", name="loading")
            t0 = time.perf_counter()
            backend.load()
            row["model_load_s"] = time.perf_counter() - t0
            row["cpus"] = format_cpus(observed_cpus())  # every thread, the runtime's pool included
            row["load_time_s"] = time.time() - spec.spawn_time if spec.spawn_time else row["model_load_s"]
            row["model_info"] = backend.describe()
            row["model_file_mb"] = row["model_info"].get("model_file_mb")
            row["model_path"] = row["model_info"].get("model_path")
            if spec.scenarios:
                events.send("phase", name="latency")
                _run_scenarios(backend, spec, files, events)
                if row.get("model_path"):
                    # this machine's roofline under the same threads, CPUs and load (harness.projection);
                    # only a local model file is ever projected, so a remote API cell skips it
                    row.update(probe_columns(limits.threads))
            # the model's own footprint while serving, before the evaluation stack is imported
            memory.sample()
            serving = memory.result
            row.update(
                serving_peak_rss_mb=serving.peak_rss_mb,
                serving_peak_anon_mb=serving.peak_anon_mb,
                serving_peak_file_mb=serving.peak_file_mb,
            )
            if spec.tasks:
                events.send("phase", name="accuracy")
                _run_tasks(backend, spec, files, events)
            backend.close()
        except BackendUnavailable as exc:
            row.update(status="skipped", reason=clip(str(exc), 2000))
        except (UserError, ModelLoadError) as exc:
            row.update(status="failed", reason=clip(str(exc), 2000))
        except Exception as exc:
            traceback.print_exc()
            row.update(status="failed", reason=clip(f"{type(exc).__name__}: {exc}", 500))
        finally:
            reading = meter.stop()
            if watchdog is not None:
                watchdog.stop()
    result = memory.result
    # the kernel syncs per-thread RSS counters lazily, so an earlier reading can exceed a later VmHWM
    peaks = [v for v in (result.peak_rss_mb, row.get("serving_peak_rss_mb")) if v is not None]
    row.update(
        peak_rss_mb=max(peaks) if peaks else None,
        peak_anon_mb=result.peak_anon_mb,
        peak_file_mb=result.peak_file_mb,
        **reading.columns(),
        **gpu_memory().columns(),
        duration_s=time.time() - started,
        notes="; ".join(notes),
    )
    return row


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
    sys.stderr = RedactingStream(sys.stderr)
    sys.stdout = RedactingStream(sys.stdout)
    row = run_cell(spec)
    atomic_write_json(CellFiles(spec_path.parent).status, row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
