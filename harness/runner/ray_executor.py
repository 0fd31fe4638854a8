"""Run planned cells as Ray tasks across the nodes of a cluster (``tierbench run --executor ray``).

Each cell is one Ray task (``max_calls=1``) running the local executor's very worker subprocess in a
scratch directory on its node, its records streamed home through a mailbox actor
(``harness.runner.cellsync``): no shared filesystem is assumed. The driver places cells itself, as
Ray resources are logical: each gets a whole free node (two cells on one node distort latency) with
a hard affinity. A cell whose node dies is requeued and resumes from the records already received.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from harness.config.profile import HardwareProfile
from harness.errors import UserError
from harness.meters.periodic import Ticker
from harness.results.files import atomic_write_json
from harness.results.layout import CellFiles, RunLayout
from harness.results.schema import CellOutcome, CellStatus
from harness.runner import cellsync
from harness.runner.cell import CellSpec
from harness.runner.events import NODE_ID_VARIABLE
from harness.runner.executor import LocalExecutor, ProgressCallback, cells_to_run, fresh_cell_dir, not_run
from harness.runner.planner import Plan, PlannedCell
from harness.secrets import use_params

PROFILE_RESOURCE = "profile:{name}"
# attempts per cell when nodes die under it (Ray's own retries would restart it from scratch)
MAX_ATTEMPTS = 3
POLL_S = 0.5


def cell_resources(spec: CellSpec) -> dict[str, float]:
    """The Ray resources a cell asks for, derived from its hardware profile."""
    profile = spec.profile
    if profile.name == "host":  # "the machine it runs on": any node will do
        return {"CPU": 1.0}
    need = {"CPU": float(profile.cores), PROFILE_RESOURCE.format(name=profile.name): 1.0}
    if profile.accelerator.kind == "gpu":
        need["GPU"] = 1.0
    return need


@ray.remote(num_cpus=0)
class Mailbox:
    """Where remote cells drop their records and progress for the driver to collect."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, list[dict[str, Any]]]] = []

    def put(self, cell_id: str, attempt: str, messages: list[dict[str, Any]]) -> None:
        self.items.append((cell_id, attempt, messages))

    def drain(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        items, self.items = self.items, []
        return items


def node_host_profile(node_cpus: float) -> HardwareProfile:
    """``host`` on a Ray node: this machine, with as many cores as the node offers Ray
    (``ray start --num-cpus``), so a node that shares its machine runs its cell on its share."""
    from harness.hardware import host_profile

    host = host_profile()
    cores = max(1, min(host.cores, int(node_cpus))) if node_cpus >= 1 else host.cores
    return host.model_copy(update={"cores": cores, "threads": min(host.effective_threads, cores)})


def _run_remote_cell(
    spec_json: str, start: dict[str, bytes], mailbox: Any, attempt: str, cell_timeout_s: float, node_cpus: float
) -> dict[str, Any] | None:
    """Body of the Ray task: run the worker in a scratch directory, streaming its records home."""
    spec = CellSpec.model_validate_json(spec_json)
    use_params([spec.model.params])  # a reason quoting the worker's log is redacted here as on the driver
    with tempfile.TemporaryDirectory(prefix="tierbench-cell-") as scratch:
        update: dict[str, Any] = {"run_dir": scratch}
        if spec.profile.name == "host":  # the node's own cores and memory, not the driver's
            update["profile"] = node_host_profile(node_cpus)
        spec = spec.model_copy(update=update)
        files = CellFiles(Path(scratch) / "cells" / spec.cell_id)
        os.environ[NODE_ID_VARIABLE] = ray.get_runtime_context().get_node_id()  # this process serves one cell
        cellsync.restore(files.dir, start)
        tail = cellsync.CellTail(files.dir)
        tail.mark()
        events: list[dict[str, Any]] = []
        lock = threading.Lock()

        def on_event(cell_id: str, event: dict[str, Any]) -> None:
            with lock:
                events.append(event)

        def flush() -> None:
            with lock:
                pending = [{"event": e} for e in events[-3:]]
                events.clear()
            messages = tail.poll() + pending
            if messages:
                ray.get(mailbox.put.remote(spec.cell_id, attempt, messages))

        pump = Ticker(flush, POLL_S, "tierbench-cell-pump", join_s=None)
        pump.start()
        try:
            outcome = LocalExecutor(cell_timeout_s, on_event=on_event).run_cell(spec, files)
        finally:
            pump.stop()
            flush()  # the last records and status.json reach the driver before the outcome does
    return outcome.model_dump(mode="json") if outcome is not None else None


_cell_task = ray.remote(max_calls=1, max_retries=0)(_run_remote_cell)


class RayExecutor:
    """Runs cells as Ray tasks, one per free node that offers their resources."""

    def __init__(
        self,
        cell_timeout_s: float,
        on_event: ProgressCallback | None = None,
        *,
        address: str | None = None,
        resource_wait_s: float = 60.0,
        share_nodes: bool = False,
    ) -> None:
        self.cell_timeout_s = cell_timeout_s
        self.on_event = on_event or (lambda cell, event: None)
        self.address = address
        self.resource_wait_s = resource_wait_s
        self.share_nodes = share_nodes
        self.outcomes: dict[str, CellOutcome] = {}

    def run(self, plan: Plan, run_dir: Path, resume: bool = False) -> dict[str, CellOutcome]:
        self.outcomes = {}
        queue = deque(cells_to_run(plan, RunLayout(run_dir), resume, self.outcomes, self.on_event))
        if queue:
            _connect(self.address)
            try:
                _Sweep(self, run_dir, queue, self.outcomes).run()
            finally:
                ray.shutdown()
        return self.outcomes


def check_address(address: str | None) -> None:
    """Fail in a second, before the run directory exists, when nothing listens at the address
    (Ray itself would retry for minutes)."""
    target = address or os.environ.get("RAY_ADDRESS")
    if not target or target in ("auto", "local"):
        return
    host, _, port = target.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {target}: expected HOST:PORT of the Ray head, e.g. 10.0.0.1:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise UserError(
            f"--ray-address {target}: no Ray head answers there ({exc.strerror or exc}); start one with "
            "'ray start --head' and pass the address it prints (or set RAY_ADDRESS)"
        ) from None


def _connect(address: str | None) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "a new local Ray instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"--ray-address {where}: cannot connect to Ray ({first}); start the head with 'ray start --head' "
            "and pass its address (or set RAY_ADDRESS)"
        ) from None
    finally:
        # Ray's core worker installs its own fatal-signal handlers (SIGTERM aborts the driver);
        # ours turn Ctrl-C and `kill` into an orderly stop that leaves a resumable run dir
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)


class _Sweep:
    """The driver's loop: place queued cells on free nodes, apply streamed records, settle outcomes."""

    def __init__(
        self, executor: RayExecutor, run_dir: Path, queue: deque[PlannedCell], outcomes: dict[str, CellOutcome]
    ) -> None:
        self.x = executor
        self.run_dir = run_dir
        self.queue = queue
        self.outcomes = outcomes
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self.mailbox = Mailbox.options(scheduling_strategy=here).remote()  # type: ignore[attr-defined]
        self.running: dict[str, tuple[Any, PlannedCell, str, str]] = {}  # cell -> (ref, planned, node, attempt)
        self.attempts: dict[str, int] = {}
        self.waiting_since: dict[str, float] = {}

    def run(self) -> None:
        try:
            while self.queue or self.running:
                self._place()
                refs = [entry[0] for entry in self.running.values()]
                ready = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)[0] if refs else []
                if not refs:
                    time.sleep(POLL_S)
                self._drain()
                for cell_id in [c for c, entry in self.running.items() if entry[0] in ready]:
                    self._settle(cell_id)
        except KeyboardInterrupt:
            self._interrupt()
            raise

    def _files(self, cell_id: str) -> CellFiles:
        return RunLayout(self.run_dir).cell(cell_id)

    def _place(self) -> None:
        nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        busy = {entry[2] for entry in self.running.values()}
        for planned in list(self.queue):
            spec = planned.spec
            need = cell_resources(spec)
            fitting = [n for n in nodes if all(n.get("Resources", {}).get(k, 0.0) >= v for k, v in need.items())]
            if not fitting:
                since = self.waiting_since.setdefault(spec.cell_id, time.monotonic())
                if time.monotonic() - since >= self.x.resource_wait_s:
                    self.queue.remove(planned)
                    wanted = ", ".join(f"{k}={v:g}" for k, v in need.items())
                    self.outcomes[spec.cell_id] = CellOutcome(
                        status=CellStatus.SKIPPED,
                        reason=f"no Ray node offers {wanted} (waited {self.x.resource_wait_s:g}s); start a node "
                        f"with those resources (docs/scale-out.md)",
                    )
                    self.x.on_event(spec.cell_id, {"type": "finished", "status": "skipped"})
                continue
            self.waiting_since.pop(spec.cell_id, None)
            node = next((n for n in fitting if self.x.share_nodes or n["NodeID"] not in busy), None)
            if node is None:
                continue
            self.queue.remove(planned)
            self._submit(planned, node)
            if not self.x.share_nodes:
                busy.add(node["NodeID"])

    def _submit(self, planned: PlannedCell, node: dict[str, Any]) -> None:
        spec = planned.spec
        files = self._files(spec.cell_id)
        fresh_cell_dir(files, spec)
        attempt = uuid.uuid4().hex
        self.attempts[spec.cell_id] = self.attempts.get(spec.cell_id, 0) + 1
        need = cell_resources(spec)
        ref = _cell_task.options(  # type: ignore[attr-defined]
            num_cpus=need.pop("CPU"),
            num_gpus=need.pop("GPU", 0),
            resources=need,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False),
        ).remote(
            spec.model_dump_json(),
            cellsync.snapshot(files.dir),
            self.mailbox,
            attempt,
            self.x.cell_timeout_s,
            float(node.get("Resources", {}).get("CPU", 0)),
        )
        self.running[spec.cell_id] = (ref, planned, node["NodeID"], attempt)
        label = f"{node.get('NodeManagerHostname', '?')} node {node['NodeID'][:8]}"
        placement = {"node_id": node["NodeID"], "hostname": node.get("NodeManagerHostname"), "attempt": attempt}
        atomic_write_json(files.dir / cellsync.PLACEMENT, placement)
        self.x.on_event(spec.cell_id, {"type": "placed", "node": label})

    def _drain(self) -> None:
        for cell_id, attempt, messages in ray.get(self.mailbox.drain.remote()):
            entry = self.running.get(cell_id)
            if entry is None or entry[3] != attempt:
                continue  # a dead attempt's last words: its successor starts from what arrived before
            cellsync.apply(self._files(cell_id).dir, [m for m in messages if "file" in m])
            for message in messages:
                if "event" in message:
                    self.x.on_event(cell_id, message["event"])

    def _settle(self, cell_id: str) -> None:
        ref, planned, node_id, _ = self.running.pop(cell_id)
        outcome: CellOutcome | None
        try:
            returned = ray.get(ref)
            outcome = CellOutcome.model_validate(returned) if returned is not None else None
        except RayTaskError as exc:  # our own code failed inside the task: a bug, not a lost node
            first = str(exc).strip().splitlines()[-1][:300]
            outcome = CellOutcome(status=CellStatus.FAILED, reason=f"Ray task failed: {first}")
        except RayError as exc:  # the node or its Ray worker died: back to the queue
            if self.attempts.get(cell_id, 0) < MAX_ATTEMPTS:
                self.queue.appendleft(planned)
                self.x.on_event(cell_id, {"type": "phase", "name": f"requeued ({type(exc).__name__})"})
                return
            outcome = CellOutcome(
                status=CellStatus.FAILED,
                reason=f"lost {MAX_ATTEMPTS} times to node failures ({type(exc).__name__}); "
                "continue with 'tierbench run --resume'",
            )
        if outcome is not None:
            self.outcomes[cell_id] = outcome.model_copy(update={"node_id": node_id})
        status = outcome.status if outcome is not None else CellStatus.OK
        self.x.on_event(cell_id, {"type": "finished", "status": str(status)})

    def _interrupt(self) -> None:
        """Ctrl-C: stop every remote cell, keep what it sent, and mark the rest for --resume."""
        for ref, *_ in self.running.values():
            ray.cancel(ref, force=True)
        try:
            self._drain()
        except (RayError, GetTimeoutError):
            pass
        for cell_id, (_, _, node_id, _) in self.running.items():
            self.outcomes[cell_id] = CellOutcome(
                status=CellStatus.FAILED, reason="interrupted; continue with 'tierbench run --resume'", node_id=node_id
            )
        not_run(self.outcomes, (planned.spec.cell_id for planned in self.queue))
