"""The typed, versioned run record: meta.json and each cell's result.

Readers validate what they read, so a newer or hand-edited run directory gives one line naming the
file, the field and the version instead of a KeyError deep in a reader. Bump ``SCHEMA_VERSION`` when a
field changes meaning or a required one is added, with a step in harness.results.migrate that upgrades
the version before. Kept free of pandas (the worker imports it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UserError
from harness.results.files import read_run_bytes
from harness.strictjson import JSONRefused, loads

SCHEMA_VERSION = 1


class CellStatus(StrEnum):
    """How a (model, profile) cell ended; the only status values any table carries."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    DOES_NOT_FIT = "does_not_fit"


# The status of a projections-table row that was projected, and of the stand-in cell a report builds
# from it: never a CellStatus, since nothing measured it.
PROJECTED = "projected"


class ConstraintFlags(BaseModel):
    """Constraints given on the command line (None: the suite file's value stands)."""

    model_config = ConfigDict(extra="forbid")

    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    max_p95_e2e_s: float | None = Field(default=None, gt=0)
    max_memory_mb: float | None = Field(default=None, gt=0)
    objective: Literal["cheapest", "fastest", "most_accurate"] | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RunOptions(BaseModel):
    """What ``tierbench run`` was asked for: exactly what ``--resume`` needs to plan the same cells."""

    model_config = ConfigDict(extra="forbid")

    suite_source: str = Field(description="--suite as given: a built-in name or a YAML path.")
    models: list[str] | None = Field(default=None, description="--models (None: the suite's).")
    profiles: list[str] | None = Field(default=None, description="--profiles (None: the suite's).")
    tasks: list[str] | None = Field(default=None, description="--tasks (None: the suite's).")
    limit: int | None = Field(default=None, ge=1, description="--limit (None: the suite's).")
    catalog: str | None = Field(default=None, description="--catalog merged over the default catalog.")
    data_dir: str | None = Field(default=None, description="--data-dir or $TIERBENCH_DATA_DIR.")
    cell_timeout_s: float = Field(default=3600.0, ge=1, description="--cell-timeout.")
    eval_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="--eval-concurrency: evaluation requests in flight for a concurrent backend (None: its "
        "catalog max_concurrency, else 8). Not a plan flag: results are the same at any value.",
    )
    constraints: ConstraintFlags = Field(default_factory=ConstraintFlags)


class RunMeta(BaseModel):
    """meta.json: what was run, where and with which versions; written by ``tierbench run``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    run_id: str
    tierbench_version: str
    created_at: str
    finished_at: str | None = None
    status: Literal["running", "complete", "interrupted"]
    suite: dict[str, Any] = Field(description="The resolved SuiteSpec.")
    models: list[dict[str, Any]] = Field(description="Catalog entries run, with secrets redacted.")
    profiles: list[dict[str, Any]] = Field(description="Hardware profiles run.")
    options: RunOptions
    host: dict[str, Any] = Field(description="Host fingerprint: a dumped harness.meters.host.HostFingerprint.")
    git_revision: str | None = None
    backends: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Backend.describe() per cell id: runtime version, quantization, context."
    )


class CellResult(BaseModel):
    """What a cell's worker measured: RUN/cells/<cell>/status.json, one row of cells.parquet."""

    model_config = ConfigDict(extra="forbid")

    status: CellStatus = CellStatus.OK
    reason: str = ""
    hostname: str | None = Field(default=None, description="The machine that measured the cell.")
    node_id: str | None = Field(default=None, description="The Ray node that measured it (--executor ray).")
    threads: int | None = None
    cpus: str | None = None
    limit_mechanism: str | None = None
    notes: str = ""
    load_time_s: float | None = None
    model_load_s: float | None = None
    model_file_mb: float | None = None
    serving_peak_rss_mb: float | None = None
    serving_peak_anon_mb: float | None = None
    serving_peak_file_mb: float | None = None
    peak_rss_mb: float | None = None
    peak_anon_mb: float | None = None
    peak_file_mb: float | None = None
    energy_source: str | None = None
    energy_scope: str | None = None
    energy_j: float | None = None
    energy_j_low: float | None = None
    energy_j_high: float | None = None
    energy_idle_j: float | None = None
    energy_dynamic_j: float | None = None
    energy_notes: str | None = None
    gpu_peak_allocated_mb: float | None = None
    gpu_peak_reserved_mb: float | None = None
    gpu_process_mb: float | None = None
    cpu_time_s: float | None = Field(default=None, description="User + system CPU time of the cell's process.")
    model_path: str | None = Field(
        default=None, description="The local model file or directory (projections read its facts)."
    )
    weights_dtype: str | None = Field(
        default=None, description="The dtype the weights were held in (transformers; projections size them by it)."
    )
    # this machine's roofline under the cell's threads and CPUs (harness.meters.roofline)
    roofline_threads: float | None = None
    roofline_bandwidth_gbs: float | None = None
    roofline_gflops: float | None = None
    roofline_single_bandwidth_gbs: float | None = None
    roofline_error: str | None = None
    host_other_cpu_share: float | None = Field(
        default=None, description="Share of the cell's cores other processes took while it ran (0-1)."
    )
    host_steal_share: float | None = Field(default=None, description="Steal time share of the cell's cores (0-1).")
    cpu_freq_mhz_mean: float | None = None
    cores_seen: int | None = Field(default=None, description="CPUs the cell's affinity let it use.")
    contended: bool | None = Field(default=None, description="Neighbours took more than the contention threshold.")
    duration_s: float | None = None
    eval_concurrency_used: int | None = Field(
        default=None, description="The most evaluation requests the cell had in flight at once (1: one at a time)."
    )
    throttled_requests: int | None = Field(
        default=None,
        description="Evaluation requests the endpoint throttled (HTTP 429, or 503 with Retry-After): each was "
        "waited out and retried, never scored as an answer.",
    )
    native_fallback: str | None = Field(
        default=None, description="Native kernels turned off because they crashed here (canary or retry), and why."
    )
    retried_after: str | None = Field(
        default=None, description="The cell ran a second time, with the safest settings, after its worker crashed."
    )
    backend_info: dict[str, Any] = Field(default_factory=dict, description="Backend.describe(); goes to meta.json.")


class CellOutcome(BaseModel):
    """The parent's verdict on a cell whose worker did not finish normally (or never ran), or what --quiet-host saw."""

    model_config = ConfigDict(extra="forbid")

    status: CellStatus
    reason: str
    # what the parent saw of the process, kept because a dead worker wrote no peaks of its own
    peak_rss_mb: float | None = None
    peak_anon_mb: float | None = None
    peak_file_mb: float | None = None
    limit_mechanism: str | None = None
    cpus: str | None = None
    node_id: str | None = Field(default=None, description="The Ray node the cell last ran on (--executor ray).")
    quiet_wait_s: float | None = Field(default=None, description="--quiet-host: seconds waited before the cell.")
    quiet_busy_share: float | None = Field(default=None, description="--quiet-host: others' last share seen.")
    quiet_calm: bool | None = Field(default=None, description="--quiet-host: the host was calm when the cell began.")
    crash_signal: str | None = Field(default=None, description="The native fault that killed the worker (SIGSEGV…).")


class OverBudget(BaseModel):
    """RUN/cells/<cell>/over_budget.json: the memory watchdog's record before it ends the worker."""

    model_config = ConfigDict(extra="forbid")

    peak_rss_mb: float
    budget_mb: float
    rss_anon_mb: float | None = None
    rss_file_mb: float | None = None
    limit_mechanism: str | None = None
    cpus: str | None = None


Record = TypeVar("Record", bound=BaseModel)


def read_record(
    path: Path, model: type[Record], *, upgrade: Callable[[dict[str, Any], Path], dict[str, Any]] | None = None
) -> Record:
    """``path`` parsed as ``model`` (after ``upgrade`` from an older schema, harness.results.migrate);
    one-line UserError naming the file, the field and the version."""
    raw = read_run_bytes(path, "the run's JSON record")  # a directory or FIFO in its place: one line
    if raw is None:
        raise UserError(f"{path}: missing; the run directory is incomplete")
    try:
        data = loads(raw)
    except JSONRefused as exc:
        raise UserError(f"{path}: corrupted ({exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path}: corrupted (not valid JSON)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: corrupted (expected a JSON object)")
    if upgrade is not None:
        data = upgrade(data, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        what = "is missing" if error["type"] == "missing" else f"is invalid ({error['msg']})"
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise UserError(
            f"{path}: field '{field}' {what} (schema version {SCHEMA_VERSION}); "
            "the file was edited or written by another tierbench: re-run"
        ) from None


def dump_record(record: BaseModel) -> dict[str, Any]:
    """A record as JSON-ready data (enums as their values)."""
    return record.model_dump(mode="json")
