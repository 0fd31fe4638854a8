"""``tierbench ab``: baseline and candidate measured in one job on one machine, interleaved in blocks.

Each block is a short ordinary run (``harness.api.run``: planner, executor, collector) in
OUT/blocks/NN-<side>; blocks go A B B A A B ... so drift, turbo, heat and noisy neighbours hit
both sides alike, and the gate judges speed from the paired block differences.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.api.checks import check_out_path, refuse_duplicates
from harness.cli.options import FiniteFloatRange
from harness.errors import UserError
from harness.safetext import one_line

if TYPE_CHECKING:
    from harness.ab.sides import AbSides
    from harness.config.rules import GateRules
    from harness.gate.evaluate import GateReport

# plan flags that a baseline file pins: given with --baseline they would make the sides differ
PINNED_FLAGS = {"suite_name": "--suite", "models": "--models", "tasks": "--tasks", "limit": "--limit"}


@click.command("ab")
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path),
    help="Baseline file (tierbench baseline save) or run directory: its pinned suite, catalog entries, "
    "items and model files are the baseline side.",
)
@click.option(
    "--baseline-catalog",
    type=click.Path(path_type=Path),
    help="Or: the baseline side's catalog YAML (both sides run --suite/--models/--tasks/--limit).",
)
@click.option(
    "--catalog", "catalog_path", type=click.Path(path_type=Path), help="The candidate's catalog (default: the default)."
)
@click.option("--rules", "rules_path", required=True, type=click.Path(path_type=Path), help="Gate rules YAML.")
@click.option("--blocks", type=click.IntRange(1, 50), default=3, show_default=True, help="Blocks per side.")
@click.option("--suite", "suite_name", help="With --baseline-catalog: suite name or YAML (default: quick).")
@click.option("--models", help="With --baseline-catalog: comma-separated model names.")
@click.option("--tasks", help="With --baseline-catalog: comma-separated tasks.")
@click.option("--limit", type=click.IntRange(min=1), help="With --baseline-catalog: cap on items per task.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="TIERBENCH_DATA_DIR", help="Local benchmark data.")
@click.option("--out", type=click.Path(path_type=Path), help="Job directory (default: runs/<timestamp>-ab).")
@click.option("--cell-timeout", type=FiniteFloatRange(min=1), default=3600, show_default=True, help="Seconds per cell.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path), help="Write a Markdown summary here.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the one-line verdict at the end.")
def command(**flags: Any) -> None:
    """Measure the baseline configuration and the candidate here, interleaved, and gate the candidate.

    \b
    Exit codes: 0 every rule passed; 1 a rule regressed, is not comparable, or is
    inconclusive (unless the rules say on_inconclusive: warn); 2 usage or input error
    (a pinned baseline model that is not available here, other items than the baseline's).
    """
    from harness.ab.sides import check_pinned_models
    from harness.config.loading import load_yaml_model
    from harness.config.rules import GateRules

    rules_path: Path = flags["rules_path"]
    rules = load_yaml_model(GateRules, rules_path)
    sides = _sides(flags)
    check_pinned_models(sides)
    report = _measure(sides, rules, flags["out"], str(rules_path), flags["blocks"])  # _sides settled --out
    from harness.gate.output import emit

    emit(report, flags["junit_path"], flags["markdown_path"], flags["quiet"])
    sys.exit(report.exit_code)


def _sides(flags: dict[str, Any]) -> AbSides:
    from harness.ab.sides import from_baseline, from_catalogs
    from harness.cli.run import run_options
    from harness.gate.baseline import load_any

    baseline_path: Path | None = flags["baseline_path"]
    baseline_catalog: Path | None = flags["baseline_catalog"]
    if (baseline_path is None) == (baseline_catalog is None):
        raise UserError("give --baseline FILE or --baseline-catalog CATALOG (one of them): what the baseline side runs")
    out: Path | None = flags["out"]
    if out is not None:
        check_out_path(out)
        if out.exists() and any(out.iterdir()):
            raise UserError(f"--out {out}: not empty; choose a new directory for the A/B job")
    workdir = flags["out"] = out or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-ab"
    candidate_catalog: Path | None = flags["catalog_path"]
    if candidate_catalog is not None and not candidate_catalog.is_file():
        raise UserError(f"--catalog {candidate_catalog}: no such file")
    if baseline_path is not None:
        if given := [flag for name, flag in PINNED_FLAGS.items() if flags[name] is not None]:
            raise UserError(f"{given[0]} cannot be combined with --baseline: the baseline file pins it")
        pinned = load_any(baseline_path)
        workdir.mkdir(parents=True, exist_ok=True)
        sides = from_baseline(baseline_path, pinned, candidate_catalog, workdir)
        if flags["data_dir"] is not None:
            data = {"data_dir": str(flags["data_dir"])}
            sides = replace(
                sides,
                baseline=sides.baseline.model_copy(update=data),
                candidate=sides.candidate.model_copy(update=data),
            )
    else:
        assert baseline_catalog is not None
        candidate = run_options({**flags, "suite_name": flags["suite_name"] or "quick"})
        refuse_duplicates("--models", candidate.models)
        refuse_duplicates("--tasks", candidate.tasks)
        sides = from_catalogs(baseline_catalog, candidate)
    for side in (sides.baseline, sides.candidate):
        side.cell_timeout_s = flags["cell_timeout"]
    return sides


def _measure(sides: AbSides, rules: GateRules, out: Path, rules_source: str, pairs: int) -> GateReport:
    """Run every block, check the two sides are comparable, and judge the candidate."""
    from harness.ab.merge import check_same_items, merge_blocks
    from harness.ab.schedule import interleave
    from harness.ab.sides import check_pinned_files
    from harness.api.checks import check_tasks
    from harness.cli.run import execute
    from harness.gate.evaluate import evaluate
    from harness.results.measure import measure_paired_blocks
    from harness.results.snapshot import from_run
    from harness.runner.request import RunRequest

    for side in (sides.baseline, sides.candidate):
        check_tasks(RunRequest.resolve(side).tasks)
    done: dict[str, list[tuple[int, Path]]] = {"baseline": [], "candidate": []}
    schedule = interleave(pairs)
    for block in schedule:
        path = out / "blocks" / block.dirname
        click.echo(one_line(f"tierbench ab: block {block.position}/{len(schedule)} ({block.side}) -> {path}"), err=True)
        try:
            execute(sides.baseline if block.side == "baseline" else sides.candidate, out=path, report=False)
        except SystemExit as exc:
            if exc.code != 1:  # 1: a cell failed, which the gate reports; anything else ends the job
                raise
        done[block.side].append((block.pair, path))
        first = from_run(path)
        if block.side == "baseline" and len(done["baseline"]) == 1:
            check_pinned_files(sides, first.meta)
        if len(done[block.side]) == 1 and sides.pinned is not None:
            where = f"--baseline {sides.pinned_path} vs {path}"
            check_same_items(sides.pinned, first, where, ("baseline file", f"{block.side} block"))
        if len(done["baseline"]) == 1 and len(done["candidate"]) == 1 and block.pair == 0:
            check_same_items(from_run(done["baseline"][0][1]), from_run(done["candidate"][0][1]), f"A/B job {out}")
    base = merge_blocks(f"baseline side, {out}", done["baseline"])
    candidate = merge_blocks(f"candidate side, {out}", done["candidate"])
    check_same_items(base, candidate, f"A/B job {out}")
    return evaluate(candidate, base, rules, rules_source=rules_source, requests=measure_paired_blocks, interleaved=True)
