"""Run planned cells one after another (two sharing cores distort each other's latency), each in a
fresh worker process: fork+exec, so its kernel memory high-water mark starts from zero rather than
from this larger parent, which also samples the child's memory so that even a crash leaves its peak.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.backends.canary import CRASH_SIGNALS
from harness.backends.registry import prepare_native
from harness.meters.contention import cell_cpus, wait_for_quiet
from harness.meters.memory import read_status
from harness.results.files import atomic_write_json
from harness.results.layout import CellFiles, RunLayout
from harness.results.schema import CellOutcome, CellStatus, OverBudget, read_record
from harness.runner.cell import EXIT_OVER_BUDGET, CellSpec
from harness.runner.collect import read_cell_result
from harness.runner.events import EVENT_FD_VARIABLE
from harness.runner.limits import thread_environment
from harness.runner.planner import Plan, PlannedCell
from harness.secrets import clip

ProgressCallback = Callable[[str, dict[str, Any]], None]


class Executor(Protocol):
    """Where cells run: ``run`` takes each planned cell, has its records land in
    ``RUN/cells/<cell>/`` as they are produced, reports progress through ``on_event`` and returns
    the outcome of each cell whose worker's own result does not tell the whole story.
    ``outcomes`` stays complete when ``run`` ends by KeyboardInterrupt, so the run dir resumes."""

    outcomes: dict[str, CellOutcome]

    def run(self, plan: Plan, run_dir: Path, resume: bool = False) -> dict[str, CellOutcome]: ...


@dataclass
class ChildWatch:
    """What the parent saw of a running child: its memory peaks and last phase."""

    peak_rss_mb: float = 0.0
    peak_anon_mb: float = 0.0
    peak_file_mb: float = 0.0
    phase: str = "starting"


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _log_tail(path: Path) -> str:
    """The worker log's last three lines that say something (llama.cpp's own chatter left out)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    interesting = [line for line in text if line.strip() and "llama_" not in line]
    return clip(" | ".join(interesting[-3:]), 400)


def _finished_ok(files: CellFiles, cell_id: str, on_event: ProgressCallback) -> bool:
    """Whether the cell's worker finished with an ok result (``--resume`` does not run it again)."""

    def say_damaged(why: str) -> None:
        on_event(cell_id, {"type": "message", "text": f"{why}; running the cell again"})

    result = read_cell_result(files, say_damaged)
    return result is not None and result.status == CellStatus.OK


def not_run(outcomes: dict[str, CellOutcome], cell_ids: Iterable[str]) -> None:
    """Cells a Ctrl-C kept from starting: skipped, so that ``--resume`` runs them."""
    for cell_id in cell_ids:
        outcomes[cell_id] = CellOutcome(status=CellStatus.SKIPPED, reason="not run: the run was interrupted")


def cells_to_run(
    plan: Plan, layout: RunLayout, resume: bool, outcomes: dict[str, CellOutcome], on_event: ProgressCallback
) -> Iterator[PlannedCell]:
    """The planned cells that need a worker, in plan order; skipped and (under --resume) finished ones are reported."""
    for planned in plan.cells:
        spec = planned.spec
        if planned.skip_reason:
            outcomes[spec.cell_id] = CellOutcome(status=CellStatus.SKIPPED, reason=planned.skip_reason)
            on_event(spec.cell_id, {"type": "finished", "status": "skipped"})
        elif resume and _finished_ok(layout.cell(spec.cell_id), spec.cell_id, on_event):
            on_event(spec.cell_id, {"type": "finished", "status": "resumed"})
        else:
            yield planned


def _remove(path: Path) -> None:
    """Clear a path of the cell's own directory, even a directory someone left where a file belongs."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clear_cell_records(files: CellFiles) -> None:
    """Drop what an attempt recorded (requests, samples, scores, responses), keeping the log and the spec."""
    for path in (files.requests, files.samples, files.scores, files.responses, files.load_summary, files.tasks_done):
        _remove(path)


def fresh_cell_dir(files: CellFiles, spec: CellSpec) -> None:
    """Ready a cell's directory for a new attempt: no result of an earlier one, this attempt's spec."""
    files.dir.mkdir(parents=True, exist_ok=True)
    for path in (files.result, files.over_budget, files.spec):
        _remove(path)
    atomic_write_json(files.spec, spec.model_dump(mode="json"))


class LocalExecutor:
    """Runs cells in fresh subprocesses on this machine."""

    def __init__(
        self, cell_timeout_s: float, on_event: ProgressCallback | None = None, quiet_host_s: float | None = None
    ) -> None:
        self.cell_timeout_s = cell_timeout_s
        # --quiet-host: wait up to this long before each cell for other processes to calm down
        self.quiet_host_s = quiet_host_s
        self.on_event = on_event or (lambda cell, event: None)
        self.outcomes: dict[str, CellOutcome] = {}  # see Executor

    def run(self, plan: Plan, run_dir: Path, resume: bool = False) -> dict[str, CellOutcome]:
        """Run every planned cell; the outcomes of cells that were skipped or ended abnormally."""
        self.outcomes = {}
        layout = RunLayout(run_dir)
        try:
            self._run_cells(plan, layout, resume)
        except KeyboardInterrupt:
            left = [p.spec.cell_id for p in plan.cells if p.spec.cell_id not in self.outcomes]
            not_run(self.outcomes, [c for c in left if read_cell_result(layout.cell(c)) is None])
            raise
        return self.outcomes

    def _run_cells(self, plan: Plan, layout: RunLayout, resume: bool) -> None:
        for planned in cells_to_run(plan, layout, resume, self.outcomes, self.on_event):
            spec = planned.spec
            files = layout.cell(spec.cell_id)
            quiet = self._wait_for_quiet(spec)
            outcome = self.run_cell(spec, files)
            if outcome is not None and quiet:
                outcome = outcome.model_copy(update=quiet)
            elif quiet and (own := read_cell_result(files)) is not None:
                # the worker's own result stands; the outcome only carries what --quiet-host saw
                outcome = CellOutcome(status=own.status, reason=own.reason, **quiet)
            if outcome is not None:
                self.outcomes[spec.cell_id] = outcome
            finished = outcome.status if outcome is not None else CellStatus.OK
            self.on_event(spec.cell_id, {"type": "finished", "status": str(finished)})

    def _wait_for_quiet(self, spec: CellSpec) -> dict[str, Any]:
        """Under --quiet-host, wait (bounded) until others leave the cell's cores mostly idle."""
        if self.quiet_host_s is None:
            return {}
        waiting = f"waiting for a quiet host (up to {self.quiet_host_s:.0f} s)"
        self.on_event(spec.cell_id, {"type": "phase", "name": waiting})
        seen = wait_for_quiet(self.quiet_host_s, cpus=cell_cpus()[: spec.profile.cores])
        if not seen.calm:
            share = f"{seen.busy_share:.0%}" if seen.busy_share is not None else "?"
            text = f"host still busy after {seen.waited_s:.0f} s (others took {share}); running anyway"
            self.on_event(spec.cell_id, {"type": "message", "text": text})
        return seen.columns()

    def run_cell(self, spec: CellSpec, files: CellFiles) -> CellOutcome | None:
        """Start the worker, watch it, and turn how it ended into an outcome (None: its own result stands);
        one killed by a native fault (SIGSEGV…) runs once more with every backend on its safest settings."""
        if spec.safe_retry is None:
            self.on_event(spec.cell_id, {"type": "phase", "name": "checking native code (canary)"})
            prepare_native(spec.model)  # a first canary here costs none of the cell's measured time
        outcome = self._attempt(spec, files)
        if outcome is None or outcome.crash_signal is None or spec.safe_retry is not None:
            return outcome
        self.on_event(
            spec.cell_id, {"type": "message", "text": f"{outcome.reason}; retrying once with the safest settings"}
        )
        clear_cell_records(files)  # the retry measures everything again under the settings it runs with
        retried = self._attempt(spec.model_copy(update={"safe_retry": outcome.reason}), files)
        if retried is not None and retried.crash_signal is not None:
            again = f"{retried.reason}, again after a retry with the safest settings (first: {outcome.reason})"
            return retried.model_copy(update={"reason": again})
        return retried

    def _attempt(self, spec: CellSpec, files: CellFiles) -> CellOutcome | None:
        """One worker process for the cell, from start to how it ended."""
        spec = spec.model_copy(update={"spawn_time": time.time()})
        fresh_cell_dir(files, spec)
        read_fd, write_fd = os.pipe()
        env = {
            **os.environ,
            **thread_environment(spec.profile),
            EVENT_FD_VARIABLE: str(write_fd),
            "PYTHONUNBUFFERED": "1",
        }
        watch = ChildWatch()
        with files.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "harness.runner.worker", str(files.spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                pass_fds=(write_fd,),
            )
        os.close(write_fd)
        reader = threading.Thread(target=self._read_events, args=(read_fd, spec.cell_id, watch), daemon=True)
        reader.start()
        try:
            code, timed_out = self._wait(process, watch)
        except KeyboardInterrupt:
            self._stop(process)
            reader.join(timeout=2)
            self.outcomes[spec.cell_id] = CellOutcome(
                status=CellStatus.FAILED,
                reason=f"interrupted while {watch.phase}; continue with 'tierbench run --resume'",
                peak_rss_mb=watch.peak_rss_mb or None,
            )
            raise
        reader.join(timeout=2)
        return self._outcome(code, timed_out, files, watch)

    def _wait(self, process: subprocess.Popen[bytes], watch: ChildWatch) -> tuple[int, bool]:
        deadline = time.monotonic() + self.cell_timeout_s
        status_path = Path(f"/proc/{process.pid}/status")
        while True:
            code = process.poll()
            if code is not None:
                return code, False
            status = read_status(status_path)
            watch.peak_rss_mb = max(watch.peak_rss_mb, status.get("VmHWM", 0.0))
            watch.peak_anon_mb = max(watch.peak_anon_mb, status.get("RssAnon", 0.0))
            watch.peak_file_mb = max(watch.peak_file_mb, status.get("RssFile", 0.0))
            if time.monotonic() > deadline:
                self._stop(process)
                return process.wait(), True
            time.sleep(0.1)

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _read_events(self, fd: int, cell_id: str, watch: ChildWatch) -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in stream:
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if event.get("type") == "phase":
                    watch.phase = str(event.get("name"))
                self.on_event(cell_id, event)

    def _outcome(self, code: int, timed_out: bool, files: CellFiles, watch: ChildWatch) -> CellOutcome | None:
        def ended(status: CellStatus, reason: str, **seen: Any) -> CellOutcome:
            # the peaks the parent sampled (0: never seen, so unknown), unless the worker's own record says more
            peaks = {k: v or None for k, v in asdict(watch).items() if k.startswith("peak_")}
            return CellOutcome(status=status, reason=reason, **{**peaks, **seen})

        if timed_out:
            return ended(CellStatus.FAILED, f"timed out after {self.cell_timeout_s:.0f}s while {watch.phase}")
        if code == 0 and read_cell_result(files) is not None:
            return None
        if code == EXIT_OVER_BUDGET and files.over_budget.exists():
            over = read_record(files.over_budget, OverBudget)
            reason = f"does not fit (peak {over.peak_rss_mb / 1024:.2f} GB > {over.budget_mb / 1024:.2f} GB)"
            seen = over.model_dump(include={"peak_rss_mb", "limit_mechanism", "cpus"})
            return ended(CellStatus.DOES_NOT_FIT, reason, **seen)
        if code < 0:
            # the kernel's OOM killer sends SIGKILL, so say so rather than leave the user guessing
            hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
            killed, crash = f"worker killed by {_signal_name(code)} while {watch.phase}{hint}", -code in CRASH_SIGNALS
            return ended(CellStatus.FAILED, killed, crash_signal=_signal_name(code) if crash else None)
        tail = _log_tail(files.log)
        return ended(CellStatus.FAILED, f"worker exited with code {code} while {watch.phase}: {tail}")
