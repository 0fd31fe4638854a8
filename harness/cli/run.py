"""``tierbench run``: ``harness.api.run`` with its options, progress bars and a terminal summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.cli.options import FiniteFloatRange, comma_list
from harness.cli.summary_table import print_projections, print_published, print_recommendations, print_summary
from harness.errors import UserError
from harness.results.schema import ConstraintFlags, RunOptions
from harness.safetext import terminal

# run options that shape the plan; --cell-timeout, --no-report, --quiet-host and --eval-concurrency may
# change on resume (--eval-concurrency changes how fast answers come, never which answers or scores)
PLAN_PARAMS: tuple[str, ...] = ("suite_name", "models", "profiles", "tasks", "limit", "data_dir", "catalog_path", "out")
PLAN_PARAMS += ("min_accuracy", "max_p95_latency", "max_memory_mb", "objective")


def _refuse_plan_flags(ctx: click.Context) -> None:
    """One line naming the first plan-shaping flag given together with --resume.

    A resumed run must measure exactly what it started to measure: it keeps the options its
    meta.json stores (typed and checked by ``RunOptions``), so such a flag is refused, never ignored.
    """
    for param in ctx.command.params:
        # only the command line: $TIERBENCH_DATA_DIR set in the shell is not a request to change the plan
        if param.name in PLAN_PARAMS and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE:
            flag = param.opts[0]
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
    execute(
        None if resume_dir is not None else run_options(flags),
        out=flags["out"],
        resume=resume_dir,
        executor=flags["executor"],
        ray_address=flags["ray_address"],
        ray_wait_s=flags["ray_wait"],
        # --quiet-host is not a plan flag: a resumed run may take it (or leave it) afresh
        quiet_host_s=float(flags["quiet_host_wait"]) if flags["quiet_host"] else None,
        report=not flags["no_report"],
        eval_concurrency=flags["eval_concurrency"],  # not a plan flag either: it changes how fast, not what
    )


def run_options(flags: dict[str, Any]) -> RunOptions:
    """The command line as the record meta.json keeps (and ``--resume`` reads back); ``ab`` has no flags for
    profiles, concurrency or constraints."""
    return RunOptions(
        suite_source=flags["suite_name"],
        models=comma_list(flags["models"]),
        profiles=comma_list(flags.get("profiles")),
        tasks=None if flags["tasks"] is None else comma_list(flags["tasks"]) or [],
        limit=flags["limit"],
        catalog=str(flags["catalog_path"]) if flags["catalog_path"] else None,
        data_dir=str(flags["data_dir"]) if flags["data_dir"] else None,
        cell_timeout_s=flags["cell_timeout"],
        eval_concurrency=flags.get("eval_concurrency"),
        constraints=ConstraintFlags(
            min_accuracy=flags.get("min_accuracy"),
            max_p95_e2e_s=flags.get("max_p95_latency"),
            max_memory_mb=flags.get("max_memory_mb"),
            objective=flags.get("objective"),
        ),
    )


@contextmanager
def _bars(console: Console, cell_ids: list[str]) -> Iterator[CellProgress]:
    columns = TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    with Progress(*columns, console=console) as progress:  # not transient: the bars stay on screen
        yield CellProgress(progress, cell_ids)


def execute(options: RunOptions | None, **settings: Any) -> None:
    """``harness.api.run`` with progress bars and the summary; SystemExit 1 when a cell failed, 130 interrupted."""
    from harness.api import run
    from harness.report.view import build_view

    console = Console() if Console().is_terminal else Console(width=180)
    result = run(
        options, progress=lambda ids: _bars(console, ids), log=lambda line: console.print(terminal(line)), **settings
    )
    run_dir = result.run_dir
    view = build_view(run_dir)
    print_summary(console, view)
    print_projections(console, view.projections)
    print_published(console, view.published)
    if result.interrupted:
        console.print(
            f"[yellow]Interrupted.[/] Partial results in {terminal(run_dir)}; "
            f"continue with: tierbench run --resume {terminal(run_dir)}"
        )
        raise SystemExit(result.exit_code)
    if result.report is not None:
        print_recommendations(console, result.report.recommendations)
        console.print(f"Report: {terminal(result.report.html)}")
    console.print(f"Run directory: {terminal(run_dir)}")
    if result.failed_cells:
        names = ", ".join(terminal(cell) for cell in result.failed_cells)
        total = len(result.cells.to_pandas())
        console.print(f"[red]{len(result.failed_cells)} of {total} cells failed[/] ({names}): see the summary above")
        raise SystemExit(result.exit_code)
