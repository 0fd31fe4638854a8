"""``tierbench run --resume``: the run's own options, read back from meta.json and checked.

A resumed run must measure exactly what it started to measure, so flags that would change the
plan are refused instead of being ignored without a word, and a hand-edited meta.json with a
wrongly typed option is one line naming the field instead of a traceback deep in the planner.
"""

from __future__ import annotations

from typing import Any, Literal

import click
from click.core import ParameterSource
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.config.loading import format_validation_error
from harness.errors import UserError
from harness.results.store import RunStore

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


class StoredConstraints(BaseModel):
    """Constraint flags as given (None: not given, the suite's value stands)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    max_p95_e2e_s: float | None = Field(default=None, gt=0)
    max_memory_mb: float | None = Field(default=None, gt=0)
    objective: Literal["cheapest", "fastest", "most_accurate"] | None = None


class ResumeOptions(BaseModel):
    """The ``options`` record a run writes into meta.json (see cli/run.py)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, strict=True)

    suite_source: str = "quick"
    models: str | None = None
    profiles: str | None = None
    tasks: str | None = None
    limit: int | None = Field(default=None, ge=1)
    catalog: str | None = None
    data_dir: str | None = None
    constraints: StoredConstraints = Field(default_factory=StoredConstraints)


def refuse_plan_flags(ctx: click.Context) -> None:
    """One line naming the first plan-shaping flag given together with --resume."""
    for name, flag in PLAN_FLAGS.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            raise UserError(
                f"{flag} cannot be combined with --resume: a resumed run keeps the options stored in its "
                f"meta.json; drop {flag} (or start a new run with --out)"
            )


def read_options(store: RunStore) -> ResumeOptions:
    """The stored options, type-checked; a damaged field is named with its file."""
    raw: Any = store.read_meta().get("options", {})
    try:
        return ResumeOptions.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        message = format_validation_error(f"{store.meta_path}", exc)
        raise UserError(message.replace("field '", "field 'options.", 1)) from None
