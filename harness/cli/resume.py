"""``tierbench run --resume``: a resumed run keeps the options its meta.json stores.

A resumed run must measure exactly what it started to measure, so flags that would change the
plan are refused instead of being ignored without a word. The stored options themselves are
typed and checked by ``RunOptions`` (harness.results.schema) when meta.json is read.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from harness.errors import UserError

# run options that shape the plan; --cell-timeout and --no-report may change on resume
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


def refuse_plan_flags(ctx: click.Context) -> None:
    """One line naming the first plan-shaping flag given together with --resume."""
    for name, flag in PLAN_FLAGS.items():
        # only the command line: $TIERBENCH_DATA_DIR set in the shell is not a request to change the plan
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            raise UserError(
                f"{flag} cannot be combined with --resume: a resumed run keeps the options stored in its "
                f"meta.json; drop {flag} (or start a new run with --out)"
            )
