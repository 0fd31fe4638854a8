"""``harness.run``: plan the cells, run each in a fresh process, collect the tables, write the report.

The ``tierbench run`` command is this function with progress bars and a terminal summary around it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from harness.api.checks import check_out_path, check_tasks, refuse_duplicates
from harness.api.results import RunResult
from harness.config.loading import validate
from harness.errors import UserError
from harness.results.schema import CellStatus, RunOptions
from harness.results.store import RunStore
from harness.runner.collect import collect
from harness.runner.executor import Executor, LocalExecutor, ProgressCallback
from harness.runner.fidelity import fidelity_text, measured_models, run_fidelity
from harness.runner.lock import RunLock
from harness.runner.meta import build_meta
from harness.runner.planner import plan_run
from harness.runner.request import RunRequest
from harness.secrets import use_params

# Given the cell ids once they are planned, a context that feeds on worker events while the cells run.
ProgressDisplay = Callable[[list[str]], AbstractContextManager[ProgressCallback]]
ExecutorFactory = Callable[[float, ProgressCallback, float | None], Executor]


def _ignore_events(cell_ids: list[str]) -> AbstractContextManager[ProgressCallback]:
    return nullcontext(lambda cell_id, event: None)


def run(
    options: RunOptions | None = None,
    /,
    *,
    out: Path | str | None = None,
    resume: Path | str | None = None,
    executor: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
    ray_wait_s: float = 60.0,
    quiet_host_s: float | None = None,
    report: bool = True,
    progress: ProgressDisplay = _ignore_events,
    log: Callable[[str], None] = lambda line: None,
    **fields: Any,
) -> RunResult:
    """Run a suite on every selected tier and profile; return the run directory's tables.

    ``fields`` are ``RunOptions`` fields (``models=['nano'], tasks=[...], limit=5, suite='quick'``),
    over ``options`` when both are given; they are what meta.json records. ``out`` defaults to a new
    ``runs/<timestamp>-<suite>`` under the working directory, so calling ``run`` twice never collides.
    ``resume`` continues an interrupted run with its recorded options (only ``eval_concurrency`` may
    change). Failed cells do not raise: see ``RunResult.failed_cells`` and ``exit_code``.
    """
    if resume is not None:
        options = _resumed_options(Path(resume), options, fields)
    else:
        named = {"suite_source" if key == "suite" else key: _text(value) for key, value in fields.items()}
        base = options.model_dump() if options is not None else {"suite_source": "quick"}
        options = validate(RunOptions, {**base, **named}, "run()")
    if out is not None:
        check_out_path(Path(out))
    for flag, names in (("--tasks", options.tasks), ("--models", options.models), ("--profiles", options.profiles)):
        refuse_duplicates(flag, names)
    if options.data_dir is not None:
        from harness.evaluation.runner import resolve_data_dir

        options.data_dir = str(resolve_data_dir(Path(options.data_dir)))
    request = replace(RunRequest.resolve(options), quiet_host_s=quiet_host_s)
    check_tasks(request.tasks)
    run_dir = Path(resume or out or _fresh_run_dir(request.suite.name))
    make_executor = executor_factory(executor, ray_address, ray_wait_s, request.suite.share_nodes)
    return execute(
        request, run_dir, make_executor, on_cluster=executor == "ray", resume=resume is not None, report=report,
        progress=progress, log=log,
    )  # fmt: skip


def _text(value: Any) -> Any:
    """A path given for a text field (catalog, data_dir) as the text meta.json keeps."""
    return str(value) if isinstance(value, Path) else value


def _resumed_options(run_dir: Path, options: RunOptions | None, fields: dict[str, Any]) -> RunOptions:
    """The options meta.json stored: a resumed run measures exactly what it started to measure."""
    changed = ["options"] if options is not None else [key for key in fields if key != "eval_concurrency"]
    if changed:
        raise UserError(
            f"{changed[0]} cannot be combined with resume: a resumed run keeps the options stored in its "
            "meta.json; drop it (or start a new run with out=)"
        )
    stored = RunStore.open(run_dir).read_meta().options
    if fields.get("eval_concurrency") is not None:  # how fast answers come, never which answers or scores
        stored.eval_concurrency = fields["eval_concurrency"]
    return stored


def _fresh_run_dir(suite: str) -> Path:
    """``runs/<timestamp>-<suite>``, with a counter when a run started in the same second holds it."""
    stem = Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{suite}"
    path, n = stem, 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}")
    return path


def executor_factory(name: str, ray_address: str | None, ray_wait: float, share_nodes: bool) -> ExecutorFactory:
    """How cells will run; checked before the run directory exists (Ray missing is a user error)."""
    if name == "local":
        return lambda timeout, on_event, quiet_host_s: LocalExecutor(
            cell_timeout_s=timeout, on_event=on_event, quiet_host_s=quiet_host_s
        )
    try:
        from harness.runner.ray_executor import RayExecutor, check_address
    except ImportError:
        raise UserError(
            "--executor ray: Ray is not installed; pip install 'tierbench[ray]' (or pip install ray)"
        ) from None
    check_address(ray_address)
    return lambda timeout, on_event, quiet_host_s: RayExecutor(  # nodes are quiet by placement: one cell each
        timeout, on_event, address=ray_address or None, resource_wait_s=ray_wait, share_nodes=share_nodes
    )


def execute(
    request: RunRequest,
    run_dir: Path,
    make_executor: ExecutorFactory,
    *,
    on_cluster: bool,
    resume: bool,
    report: bool,
    progress: ProgressDisplay = _ignore_events,
    log: Callable[[str], None] = lambda line: None,
) -> RunResult:
    """Run a resolved request into ``run_dir`` (the A/B command runs its blocks through here)."""
    if request.catalog.ladders:  # quantization ladders become ordinary models here, deriving the rungs this run uses
        from harness.ladder.expand import expand_catalog

        request = replace(request, catalog=expand_catalog(request.catalog, request.models, log=log))
    use_params(model.params for model in request.catalog.models)  # from here on, everything written is redacted
    if not resume and (run_dir / "meta.json").exists():
        raise UserError(f"--out {run_dir}: already holds a run; continue it with --resume {run_dir} or choose another")
    plan = plan_run(request, run_dir, on_cluster=on_cluster)
    if measured_models(plan):
        fidelity_text(request.suite.fidelity)  # a bad text file costs no model time
    # only now, with every input checked (profiles resolve in the planner), make the directory
    store = RunStore.create(run_dir)
    with RunLock.acquire(run_dir):  # released when the block ends, however it ends: a notebook may resume
        meta = store.read_meta() if resume else build_meta(run_dir.name, request, plan)
        meta.options.eval_concurrency = request.options.eval_concurrency  # a resume may take it afresh
        meta.status = "running"
        store.write_meta(meta)

        specs = [planned.spec for planned in plan.cells]
        interrupted = False
        with progress([spec.cell_id for spec in specs]) as on_event:
            executor = make_executor(request.options.cell_timeout_s, on_event, request.quiet_host_s)
            # `kill` stops as cleanly as Ctrl-C: SIGTERM raises KeyboardInterrupt like SIGINT does
            previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                outcomes = executor.run(plan, run_dir, resume=resume)
            except KeyboardInterrupt:
                interrupted = True
                outcomes = executor.outcomes
            finally:
                signal.signal(signal.SIGTERM, previous)
        if not interrupted:
            try:
                fidelity = run_fidelity(
                    plan, run_dir, request.suite.fidelity, timeout_s=request.options.cell_timeout_s, log=log
                )
                if fidelity is not None:
                    store.write_table("fidelity", fidelity)
            except KeyboardInterrupt:
                interrupted = True
        meta.backends.update(collect(store, specs, outcomes))
        meta.status = "interrupted" if interrupted else "complete"
        meta.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        store.write_meta(meta)
        paths = None
        if report and not interrupted:
            from harness.report import write_report

            paths = write_report(run_dir)
        cells = store.read_table("cells")
        failed = tuple(str(cell) for cell in cells.loc[cells["status"] == CellStatus.FAILED, "cell_id"])
        return RunResult(run_dir, interrupted, failed, paths)
