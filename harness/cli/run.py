"""``tierbench run``: plan the cells, run each in a fresh process, write tables and the report."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from harness.catalog import load_catalog
from harness.cli.options import FiniteFloatRange, check_out_path, comma_list, refuse_duplicates
from harness.cli.resume import read_options, refuse_plan_flags
from harness.cli.summary_table import print_projections, print_recommendations, print_summary
from harness.config.suite import Constraints, SuiteSpec
from harness.errors import UserError
from harness.results.store import RunStore
from harness.results.summary import cell_summary
from harness.runner.collect import collect
from harness.runner.executor import LocalExecutor
from harness.runner.lock import RunLock
from harness.runner.meta import build_meta
from harness.runner.planner import plan_run
from harness.safetext import terminal
from harness.secrets import use_params
from harness.suites import load_suite


def _apply_constraints(suite: SuiteSpec, overrides: dict[str, Any]) -> SuiteSpec:
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return suite
    merged = Constraints.model_validate({**suite.constraints.model_dump(), **given})
    return suite.model_copy(update={"constraints": merged})


class CellProgress:
    """A progress bar per cell, fed by worker events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def add(self, cell_id: str) -> None:
        self.tasks[cell_id] = self.progress.add_task(terminal(f"{cell_id}: waiting"), total=None)

    def __call__(self, cell_id: str, event: dict[str, Any]) -> None:
        task = self.tasks.get(cell_id)
        if task is None:
            return
        kind = event.get("type")
        if kind == "phase":
            self.progress.update(task, description=terminal(f"{cell_id}: {event.get('name')}"), total=None, completed=0)
        elif kind == "progress":
            label = event.get("label")
            self.progress.update(
                task,
                description=terminal(f"{cell_id}: {label}"),  # task names come from user files
                total=event.get("total") or None,
                completed=event.get("done") or 0,
            )
        elif kind == "finished":
            status = event.get("status")
            self.progress.update(task, description=terminal(f"{cell_id}: {status}"), total=1, completed=1)


def _check_tasks(names: list[str]) -> None:
    """Every task file and data file checked before any cell starts: a typo costs no model time."""
    from harness.evaluation.taskdefs import get_taskdef, read_docs

    for name in names:
        task = get_taskdef(name)
        if task.data is not None:
            read_docs(task, None)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _default_out(suite_name: str) -> Path:
    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{suite_name}"


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
@click.option("--data-dir", type=click.Path(path_type=Path), help="Local benchmark data (layout of shared/benchmarks).")
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
def command(
    suite_name: str,
    models: str | None,
    profiles: str | None,
    tasks: str | None,
    limit: int | None,
    data_dir: Path | None,
    catalog_path: Path | None,
    out: Path | None,
    resume_dir: Path | None,
    cell_timeout: float,
    min_accuracy: float | None,
    max_p95_latency: float | None,
    max_memory_mb: float | None,
    objective: str | None,
    no_report: bool,
) -> None:
    """Run a suite on every selected tier and profile; write tables, report and a summary."""
    console = Console() if Console().is_terminal else Console(width=180)
    if resume_dir is not None:
        refuse_plan_flags(click.get_current_context())
        stored = read_options(RunStore.open(resume_dir))
        suite_name, models, profiles, tasks = stored.suite_source, stored.models, stored.profiles, stored.tasks
        limit, catalog_path = stored.limit, Path(stored.catalog) if stored.catalog else None
        data_dir = Path(stored.data_dir) if stored.data_dir else None
        c = stored.constraints
        min_accuracy, max_p95_latency, max_memory_mb, objective = (
            c.min_accuracy,
            c.max_p95_e2e_s,
            c.max_memory_mb,
            c.objective,
        )
        out = resume_dir
    if out is not None:
        check_out_path(out)
    if data_dir is not None and not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir}: not a directory")
    suite = load_suite(suite_name)
    suite = _apply_constraints(
        suite,
        {
            "min_accuracy": min_accuracy,
            "max_p95_e2e_s": max_p95_latency,
            "max_memory_mb": max_memory_mb,
            "objective": objective,
        },
    )
    task_list = comma_list(tasks) if tasks is not None else list(suite.tasks)
    refuse_duplicates("--tasks", task_list)
    refuse_duplicates("--models", comma_list(models))
    refuse_duplicates("--profiles", comma_list(profiles))
    _check_tasks(task_list or [])
    catalog = load_catalog(catalog_path)
    use_params(model.params for model in catalog.models)  # from here on, everything written is redacted
    run_dir = out or _default_out(suite.name)
    if resume_dir is None and (run_dir / "meta.json").exists():
        raise UserError(f"--out {run_dir}: already holds a run; continue it with --resume {run_dir} or choose another")
    plan = plan_run(
        suite,
        catalog,
        run_dir=run_dir,
        model_names=comma_list(models) or suite.models,
        profile_names=comma_list(profiles) or suite.profiles,
        tasks=task_list or [],
        limit=limit or suite.limit,
        data_dir=data_dir,
    )
    # only now, with every input checked (profiles resolve in the planner), make the directory
    store = RunStore.create(run_dir)
    _lock = RunLock.acquire(run_dir)  # held until this command ends, however it ends
    options_record = {
        "suite_source": suite_name,
        "models": models,
        "profiles": profiles,
        "tasks": tasks,
        "limit": limit,
        "catalog": str(catalog_path) if catalog_path else None,
        "data_dir": str(data_dir) if data_dir else None,
        "constraints": {
            "min_accuracy": min_accuracy,
            "max_p95_e2e_s": max_p95_latency,
            "max_memory_mb": max_memory_mb,
            "objective": objective,
        },
    }
    meta = (
        store.read_meta()
        if resume_dir is not None
        else build_meta(
            run_id=run_dir.name, suite=suite, models=plan.models, profiles=plan.profiles, options=options_record
        )
    )
    meta["status"] = "running"
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
        bars = CellProgress(progress)
        for spec in specs:
            bars.add(spec.cell_id)
        executor = LocalExecutor(cell_timeout_s=cell_timeout, on_event=bars)
        outcomes: dict[str, dict[str, Any]] = {}
        previous = signal.signal(signal.SIGTERM, _terminate)  # `kill` stops as cleanly as Ctrl-C
        try:
            outcomes = executor.run(plan, run_dir, resume=resume_dir is not None)
        except KeyboardInterrupt:
            interrupted = True
            outcomes = executor.outcomes
        finally:
            signal.signal(signal.SIGTERM, previous)
    collect(store, specs, outcomes)
    meta["status"] = "interrupted" if interrupted else "complete"
    meta["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    store.write_meta(meta)
    summary = cell_summary(store.read_table("cells"), store.read_table("requests"), store.read_table("scores"))
    print_summary(console, summary)
    print_projections(console, store.read_table("projections"))
    if interrupted:
        console.print(
            f"[yellow]Interrupted.[/] Partial results in {terminal(run_dir)}; "
            f"continue with: tierbench run --resume {terminal(run_dir)}"
        )
        raise SystemExit(130)
    if not no_report:
        from harness.report import write_report

        paths = write_report(run_dir)
        print_recommendations(console, paths.recommendations)
        console.print(f"Report: {terminal(paths.html)}")
    console.print(f"Run directory: {terminal(run_dir)}")
