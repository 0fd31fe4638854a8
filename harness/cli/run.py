"""``tierbench run``: plan the cells, run each in a fresh process, write tables and the report."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.cli.options import FiniteFloatRange, check_out_path, comma_list, refuse_duplicates
from harness.cli.summary_table import print_projections, print_published, print_recommendations, print_summary
from harness.errors import UserError
from harness.results.schema import CellStatus, ConstraintFlags, RunOptions
from harness.results.store import RunStore
from harness.runner.collect import collect
from harness.runner.executor import Executor, LocalExecutor
from harness.runner.fidelity import fidelity_text, measured_models, run_fidelity
from harness.runner.lock import RunLock
from harness.runner.meta import build_meta
from harness.runner.planner import plan_run
from harness.runner.request import RunRequest
from harness.safetext import terminal
from harness.secrets import use_params

# How `tierbench run` ends (README, "Exit codes"): a cell skipped for a stated reason (no API key, a
# profile this host cannot emulate) or measured not to fit is a result; a failed cell is not.
EXIT_CELLS_FAILED = 1
EXIT_INTERRUPTED = 130

# run options that shape the plan; --cell-timeout, --no-report, --quiet-host and --eval-concurrency may
# change on resume (--eval-concurrency changes how fast answers come, never which answers or scores)
PLAN_FLAGS = {
    "suite_name": "--suite",
    "models": "--models",
    "profiles": "--profiles",
    "tasks": "--tasks",
    "limit": "--limit",
    "data_dir": "--data-dir",
    "catalog_path": "--catalog",
    "out": "--out",
    "min_accuracy": "--min-accuracy",
    "max_p95_latency": "--max-p95-latency",
    "max_memory_mb": "--max-memory-mb",
    "objective": "--objective",
}


def _refuse_plan_flags(ctx: click.Context) -> None:
    """One line naming the first plan-shaping flag given together with --resume.

    A resumed run must measure exactly what it started to measure: it keeps the options its
    meta.json stores (typed and checked by ``RunOptions``), so such a flag is refused, never ignored.
    """
    for name, flag in PLAN_FLAGS.items():
        # only the command line: $TIERBENCH_DATA_DIR set in the shell is not a request to change the plan
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            raise UserError(
                f"{flag} cannot be combined with --resume: a resumed run keeps the options stored in its "
                f"meta.json; drop {flag} (or start a new run with --out)"
            )


class CellProgress:
    """A progress bar per cell, fed by worker events."""

    def __init__(self, progress: Progress, cell_ids: list[str]) -> None:
        self.progress = progress
        self.tasks = {cell_id: progress.add_task(terminal(f"{cell_id}: waiting"), total=None) for cell_id in cell_ids}
        self.where: dict[str, str] = {}  # the node each cell runs on (Ray executor)

    def __call__(self, cell_id: str, event: dict[str, Any]) -> None:
        task = self.tasks.get(cell_id)
        if task is None:
            return
        kind = event.get("type")
        name = f"{cell_id} on {self.where[cell_id]}" if cell_id in self.where else cell_id
        if kind == "placed":
            self.where[cell_id] = str(event.get("node"))
            self.progress.update(task, description=terminal(f"{cell_id} on {self.where[cell_id]}: starting"))
        elif kind in ("phase", "progress"):  # a phase restarts the bar with no total
            label = event.get("name") if kind == "phase" else event.get("label")
            self.progress.update(
                task,
                description=terminal(f"{name}: {label}"),  # task names come from user files
                total=event.get("total") or None,
                completed=event.get("done") or 0,
            )
        elif kind == "message":
            self.progress.console.print(terminal(f"{cell_id}: {event.get('text')}"))
        elif kind == "finished":
            status = event.get("status")
            self.progress.update(task, description=terminal(f"{name}: {status}"), total=1, completed=1)


def _check_tasks(names: list[str]) -> None:
    """Every task file and data file checked before any cell starts: a typo costs no model time."""
    from harness.evaluation.taskdefs import get_taskdef, read_docs

    for name in names:
        task = get_taskdef(name)
        if task.data is not None:
            read_docs(task, None)


def _executor_factory(
    name: str, ray_address: str | None, ray_wait: float, share_nodes: bool
) -> Callable[[float, CellProgress, float | None], Executor]:
    """How cells will run; checked before the run directory exists (Ray missing is a user error)."""
    if name == "local":
        return lambda timeout, bars, quiet_host_s: LocalExecutor(
            cell_timeout_s=timeout, on_event=bars, quiet_host_s=quiet_host_s
        )
    try:
        from harness.runner.ray_executor import RayExecutor, check_address
    except ImportError:
        raise UserError(
            "--executor ray: Ray is not installed; pip install 'tierbench[ray]' (or pip install ray)"
        ) from None
    check_address(ray_address)
    return lambda timeout, bars, quiet_host_s: RayExecutor(  # nodes are quiet by placement: one cell each
        timeout, bars, address=ray_address or None, resource_wait_s=ray_wait, share_nodes=share_nodes
    )


@click.command("run")
@click.option(
    "--suite", "suite_name", default="quick", show_default=True, help="Built-in suite name or a suite YAML file."
)
@click.option("--models", help="Comma-separated model names from the catalog (default: the suite's tiers).")
@click.option(
    "--profiles", help="Comma-separated profiles or YAML paths, e.g. host,edge-1c-1gb (default: the suite's)."
)
@click.option("--tasks", help="Comma-separated tasks, replacing the suite's task list.")
@click.option("--limit", type=click.IntRange(min=1), help="Cap on items per task.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    envvar="TIERBENCH_DATA_DIR",
    help="Local benchmark data (layout of shared/benchmarks; default: $TIERBENCH_DATA_DIR).",
)
@click.option(
    "--catalog", "catalog_path", type=click.Path(path_type=Path), help="Model catalog YAML merged over the default."
)
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/<timestamp>-<suite>).")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), help="Resume an interrupted run directory.")
@click.option("--cell-timeout", type=FiniteFloatRange(min=1), default=3600, show_default=True, help="Seconds per cell.")
@click.option("--min-accuracy", type=FiniteFloatRange(0, 1), help="Constraint: mean accuracy floor (0-1).")
@click.option("--max-p95-latency", type=FiniteFloatRange(min=0, min_open=True), help="Constraint: p95 E2E seconds.")
@click.option("--max-memory-mb", type=FiniteFloatRange(min=0, min_open=True), help="Constraint: peak memory MiB.")
@click.option("--objective", type=click.Choice(["cheapest", "fastest", "most_accurate"]), help="How to pick a tier.")
@click.option("--no-report", is_flag=True, help="Do not write report.html at the end.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where cells run: one after another here, or as Ray tasks across a cluster (pip install 'tierbench[ray]').",
)
@click.option(
    "--ray-address",
    envvar="RAY_ADDRESS",
    help="Ray cluster to join (e.g. 10.0.0.1:6379; default $RAY_ADDRESS, else a new local Ray instance).",
)
@click.option(
    "--ray-wait",
    type=FiniteFloatRange(min=0),
    default=60,
    show_default=True,
    help="Seconds a cell waits for a Ray node offering its resources before it is recorded as skipped.",
)
@click.option(
    "--quiet-host",
    is_flag=True,
    help="Before each cell, wait until other processes take at most 25% of its cores (see --quiet-host-wait).",
)
@click.option(
    "--quiet-host-wait",
    type=FiniteFloatRange(min=1),
    default=120,
    show_default=True,
    help="Longest wait in seconds for a quiet host per cell; the cell then runs anyway and says so.",
)
@click.option(
    "--eval-concurrency",
    type=click.IntRange(min=1),
    help="Evaluation requests in flight at once for a backend that takes concurrent requests (openai); "
    "default: the model's catalog max_concurrency, else 8; 1: one at a time. Results are the same at any value.",
)
def command(**flags: Any) -> None:
    """Run a suite on every selected tier and profile; write tables, report and a summary."""
    resume_dir: Path | None = flags["resume_dir"]
    if resume_dir is not None:
        _refuse_plan_flags(click.get_current_context())
    options = RunStore.open(resume_dir).read_meta().options if resume_dir is not None else _options(flags)
    if resume_dir is not None and flags["eval_concurrency"] is not None:
        # not a plan flag: it changes how fast the answers come, not which answers or scores
        options.eval_concurrency = flags["eval_concurrency"]
    if flags["out"] is not None:
        check_out_path(flags["out"])
    refuse_duplicates("--tasks", options.tasks)
    refuse_duplicates("--models", options.models)
    refuse_duplicates("--profiles", options.profiles)
    if options.data_dir is not None:
        from harness.evaluation.runner import resolve_data_dir

        options.data_dir = str(resolve_data_dir(Path(options.data_dir)))
    # --quiet-host is not a plan flag: a resumed run may take it (or leave it) afresh
    quiet_host_s = float(flags["quiet_host_wait"]) if flags["quiet_host"] else None
    request = replace(RunRequest.resolve(options), quiet_host_s=quiet_host_s)
    _check_tasks(request.tasks)
    run_dir = resume_dir or flags["out"] or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{request.suite.name}"
    make_executor = _executor_factory(
        flags["executor"], flags["ray_address"], flags["ray_wait"], request.suite.share_nodes
    )
    _run(
        request,
        run_dir,
        make_executor,
        on_cluster=flags["executor"] == "ray",
        resume=resume_dir is not None,
        report=not flags["no_report"],
    )


def _options(flags: dict[str, Any]) -> RunOptions:
    """The command line as the record meta.json keeps (and ``--resume`` reads back)."""
    return RunOptions(
        suite_source=flags["suite_name"],
        models=comma_list(flags["models"]),
        profiles=comma_list(flags["profiles"]),
        tasks=None if flags["tasks"] is None else comma_list(flags["tasks"]) or [],
        limit=flags["limit"],
        catalog=str(flags["catalog_path"]) if flags["catalog_path"] else None,
        data_dir=str(flags["data_dir"]) if flags["data_dir"] else None,
        cell_timeout_s=flags["cell_timeout"],
        eval_concurrency=flags["eval_concurrency"],
        constraints=ConstraintFlags(
            min_accuracy=flags["min_accuracy"],
            max_p95_e2e_s=flags["max_p95_latency"],
            max_memory_mb=flags["max_memory_mb"],
            objective=flags["objective"],
        ),
    )


def _run(
    request: RunRequest,
    run_dir: Path,
    make_executor: Callable[[float, CellProgress, float | None], Executor],
    *,
    on_cluster: bool,
    resume: bool,
    report: bool,
) -> None:
    console = Console() if Console().is_terminal else Console(width=180)
    if request.catalog.ladders:  # quantization ladders become ordinary models here, deriving the rungs this run uses
        from harness.ladder.expand import expand_catalog

        catalog = expand_catalog(request.catalog, request.models, log=lambda line: console.print(terminal(line)))
        request = replace(request, catalog=catalog)
    use_params(model.params for model in request.catalog.models)  # from here on, everything written is redacted
    if not resume and (run_dir / "meta.json").exists():
        raise UserError(f"--out {run_dir}: already holds a run; continue it with --resume {run_dir} or choose another")
    plan = plan_run(request, run_dir, on_cluster=on_cluster)
    if measured_models(plan):
        fidelity_text(request.suite.fidelity)  # a bad text file costs no model time
    # only now, with every input checked (profiles resolve in the planner), make the directory
    store = RunStore.create(run_dir)
    _lock = RunLock.acquire(run_dir)  # held until this command ends, however it ends
    meta = store.read_meta() if resume else build_meta(run_dir.name, request, plan)
    meta.options.eval_concurrency = request.options.eval_concurrency  # a resume may take it afresh
    meta.status = "running"
    store.write_meta(meta)

    specs = [planned.spec for planned in plan.cells]
    interrupted = False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bars = CellProgress(progress, [spec.cell_id for spec in specs])
        executor = make_executor(request.options.cell_timeout_s, bars, request.quiet_host_s)
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
                plan,
                run_dir,
                request.suite.fidelity,
                timeout_s=request.options.cell_timeout_s,
                log=lambda line: console.print(terminal(line)),
            )
            if fidelity is not None:
                store.write_table("fidelity", fidelity)
        except KeyboardInterrupt:
            interrupted = True
    meta.backends.update(collect(store, specs, outcomes))
    meta.status = "interrupted" if interrupted else "complete"
    meta.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    store.write_meta(meta)
    from harness.report.view import build_view

    view = build_view(run_dir)
    print_summary(console, view)
    print_projections(console, view.projections)
    print_published(console, view.published)
    if interrupted:
        console.print(
            f"[yellow]Interrupted.[/] Partial results in {terminal(run_dir)}; "
            f"continue with: tierbench run --resume {terminal(run_dir)}"
        )
        raise SystemExit(EXIT_INTERRUPTED)
    if report:
        from harness.report import write_report

        paths = write_report(run_dir)
        print_recommendations(console, paths.recommendations)
        console.print(f"Report: {terminal(paths.html)}")
    console.print(f"Run directory: {terminal(run_dir)}")
    cells = store.read_table("cells")
    failed = cells[cells["status"] == CellStatus.FAILED]
    if len(failed):
        names = ", ".join(terminal(str(cell)) for cell in failed["cell_id"])
        console.print(f"[red]{len(failed)} of {len(cells)} cells failed[/] ({names}): see the summary above")
        raise SystemExit(EXIT_CELLS_FAILED)
