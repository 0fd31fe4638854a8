"""A catalogue of bad inputs: every one ends in exit code 2 and ONE line that names the culprit.

Each case invokes the real CLI in-process (click's runner; nothing here loads a model) with a
bad suite, catalog, profile, rules or task file from ``tests/data/bad``, a bad flag, or a run
directory / baseline damaged on purpose. The assertion is the same for all: exit code 2, no
traceback, exactly one line on stderr, and that line names the file, field or flag to fix.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from gate_runs import Cell, outcomes, write_run
from openai_stub import openai_stub, stub_catalog
from run_tables import assert_ran

import harness
from harness.cli.main import cli
from harness.results import RunStore
from harness.results.schema import CellResult, CellStatus, read_record

BAD = Path(__file__).resolve().parent / "data" / "bad"
TINY_SUITE = Path(__file__).resolve().parent / "data" / "tiny-suite.yaml"

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (``{bad}``, ``{tmp}`` expanded) and what the error must name."""

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    setup: Setup | None = field(default=None, compare=False)


def _run(*extra: str) -> tuple[str, ...]:
    """``tierbench run`` that would be valid but for ``extra`` (and never gets to run a model)."""
    return ("run", "--suite", str(TINY_SUITE), "--models", "nano", "--no-report", "--out", "{tmp}/out", *extra)


# -- run directories and baselines damaged on purpose ---------------------------------------------
def _good_run(tmp: Path) -> None:
    write_run(tmp / "run")


def _no_meta(tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "cells.parquet").write_bytes(b"")


def _meta_not_json(tmp: Path) -> None:
    _good_run(tmp)
    (tmp / "run" / "meta.json").write_text('{"run_id": "x", ', encoding="utf-8")


def _meta_is_list(tmp: Path) -> None:
    _good_run(tmp)
    (tmp / "run" / "meta.json").write_text("[1, 2, 3]", encoding="utf-8")


def _cells_garbage(tmp: Path) -> None:
    _good_run(tmp)
    (tmp / "run" / "cells.parquet").write_bytes(b"this is not parquet at all")


def _requests_truncated(tmp: Path) -> None:
    _good_run(tmp)
    path = tmp / "run" / "requests.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _samples_torn_middle(tmp: Path) -> None:
    _good_run(tmp)
    path = tmp / "run" / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(lines[0] + '{"task": "arith", "doc_id"\n' + "".join(lines[1:]), encoding="utf-8")


def _samples_not_utf8(tmp: Path) -> None:
    _good_run(tmp)
    path = tmp / "run" / "samples.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"task": "caf\xe9"}\n' + b"".join(lines[1:]))


def _baseline(tmp: Path) -> Path:
    _gate_rules(tmp)
    result = CliRunner().invoke(cli, ["baseline", "save", str(tmp / "run"), "--to", str(tmp / "base.json.gz")])
    assert result.exit_code == 0, result.output
    return tmp / "base.json.gz"


def _baseline_truncated(tmp: Path) -> None:
    path = _baseline(tmp)
    path.write_bytes(path.read_bytes()[:100])


def _baseline_tampered(tmp: Path) -> None:
    path = _baseline(tmp)
    document = json.loads(gzip.decompress(path.read_bytes()))
    document["payload"]["source"] = "edited by hand"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))


def _baseline_future(tmp: Path) -> None:
    path = _baseline(tmp)
    document = json.loads(gzip.decompress(path.read_bytes()))
    document["version"] = 99
    path.write_bytes(gzip.compress(json.dumps(document).encode()))


def _plain_text(tmp: Path) -> None:
    _good_run(tmp)
    (tmp / "notes.txt").write_text("not a baseline\n", encoding="utf-8")


def _file_in_the_way(tmp: Path) -> None:
    (tmp / "blocker").write_text("a file, not a directory", encoding="utf-8")


def _gate_rules(tmp: Path) -> None:
    _good_run(tmp)
    (tmp / "gate.yaml").write_text("rules:\n  - metric: accuracy\n    max_drop_points: 1\n", encoding="utf-8")


# -- hardening (issue 17): file kinds, bounds, non-finite numbers, typed run records -----------------
def _fifo(name: str) -> Setup:
    """A named pipe where a file belongs: opening it would wait forever for a writer."""

    def setup(tmp: Path) -> None:
        _good_run(tmp)
        os.mkfifo(tmp / name)

    return setup


def _fifo_with_rules(name: str) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        os.mkfifo(tmp / name)

    return setup


def _fifo_task_data(tmp: Path) -> None:
    text = (BAD / "tasks" / "data_missing_file.yaml").read_text(encoding="utf-8")
    (tmp / "task.yaml").write_text(text.replace("nowhere.jsonl", "pipe.jsonl"), encoding="utf-8")
    os.mkfifo(tmp / "pipe.jsonl")


def _deep_yaml(tmp: Path) -> None:
    (tmp / "deep.yaml").write_text("name: deep\ntasks: [arithmetic]\ndescription: " + "[" * 5000, encoding="utf-8")


def _long_extends(tmp: Path) -> None:
    body = "class: edge\ncores: 1\nmemory_mb: 1024\npower: {idle_watts: 1, max_watts: 2, source: x}\ncost: {usd_per_hour: 0}\n"
    (tmp / "p0.yaml").write_text(f"name: p0\n{body}", encoding="utf-8")
    for i in range(1, 20):
        (tmp / f"p{i}.yaml").write_text(f"name: p{i}\nextends: p{i - 1}\n", encoding="utf-8")


def _baseline_nan(tmp: Path) -> None:
    path = _baseline(tmp)
    document = json.loads(gzip.decompress(path.read_bytes()))
    document["payload"]["cells"]["peak_rss_mb"] = [float("nan")]
    path.write_bytes(gzip.compress(json.dumps(document).encode()))


def _edit_table(name: str, column: str, value: object) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / f"{name}.parquet"
        frame = pd.read_parquet(path)
        frame[column] = [value] * len(frame)
        frame.to_parquet(path, index=False)

    return setup


def _edit_meta(**fields: object) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / "meta.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        for key, value in fields.items():
            if key == "options":
                meta.setdefault("options", {}).update(value)  # type: ignore[call-overload]
            else:
                meta[key] = value
        path.write_text(json.dumps(meta), encoding="utf-8")

    return setup


def _drop_meta(key: str) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / "meta.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta.pop(key)
        path.write_text(json.dumps(meta), encoding="utf-8")

    return setup


# -- issue 23: the last tracebacks on a damaged run directory --------------------------------------
def _drop_column(name: str, column: str) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / f"{name}.parquet"
        pd.read_parquet(path).drop(columns=[column]).to_parquet(path, index=False)

    return setup


def _samples_line(line: str) -> Setup:
    """Valid JSON that is not a record, as line 2 of samples.jsonl."""

    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / "samples.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text(lines[0] + line + "\n" + "".join(lines[1:]), encoding="utf-8")

    return setup


def _directory_for(name: str) -> Setup:
    """A directory where the run's file belongs, holding the file itself (pandas would read a
    directory of parquet files as one dataset, so this one used to pass silently)."""

    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        path = tmp / "run" / name
        moved = tmp / "moved"
        path.rename(moved)
        path.mkdir()
        moved.rename(path / f"part-0{path.suffix}")

    return setup


def _fifo_for(name: str) -> Setup:
    def setup(tmp: Path) -> None:
        _gate_rules(tmp)
        (tmp / "run" / name).unlink()
        os.mkfifo(tmp / "run" / name)

    return setup


def _lock_is_a_directory(tmp: Path) -> None:
    """A resumable run (its plan names the tiny suite) whose run lock is a directory."""
    _edit_meta(options={"suite_source": str(TINY_SUITE), "models": ["nano"]})(tmp)
    (tmp / "run" / ".lock").mkdir()


def _trace_suite(trace: str, extra: str = "") -> Setup:
    """A suite (``{tmp}/trace_suite.yaml``) whose trace scenario replays ``{tmp}/trace.csv``, written as given."""

    def setup(tmp: Path) -> None:
        (tmp / "trace.csv").write_text(trace, encoding="utf-8")
        scenario = f"  - name: replay\n    kind: trace\n    trace: {tmp / 'trace.csv'}\n{extra}"
        (tmp / "trace_suite.yaml").write_text(f"name: replay\nscenarios:\n{scenario}", encoding="utf-8")

    return setup


T = "{bad}/tasks/"
GATE = ("gate", "{tmp}/run", "--baseline", "{tmp}/run", "--rules")

CASES: list[Case] = [
    # -- suite files ------------------------------------------------------------------------------
    Case("suite-yaml-syntax", _run("--suite", "{bad}/suite_syntax.yaml"), ("suite_syntax.yaml", "line", "YAML")),
    Case(
        "suite-unknown-field", _run("--suite", "{bad}/suite_unknown_field.yaml"), ("suite_unknown_field.yaml:3", "taks")
    ),
    Case("suite-wrong-type", _run("--suite", "{bad}/suite_wrong_type.yaml"), ("suite_wrong_type.yaml:4", "limit")),
    Case("suite-empty-file", _run("--suite", "{bad}/suite_empty.yaml"), ("suite_empty.yaml", "empty")),
    Case("suite-not-utf8", _run("--suite", "{bad}/suite_latin1.yaml"), ("suite_latin1.yaml", "UTF-8")),
    Case("suite-top-level-list", _run("--suite", "{bad}/suite_list.yaml"), ("suite_list.yaml",)),
    Case(
        "suite-nothing-to-run",
        _run("--suite", "{bad}/suite_nothing_to_run.yaml"),
        ("suite_nothing_to_run.yaml", "task"),
    ),
    Case(
        "suite-negative-tokens",
        _run("--suite", "{bad}/suite_negative_tokens.yaml"),
        ("suite_negative_tokens.yaml", "scenarios.0"),
    ),
    Case(
        "suite-rate-without-rate",
        _run("--suite", "{bad}/suite_rate_without_rate.yaml"),
        ("suite_rate_without_rate.yaml", "rate"),
    ),
    Case("suite-unknown-kind", _run("--suite", "{bad}/suite_bad_kind.yaml"), ("suite_bad_kind.yaml:5", "kind")),
    Case(
        "trace-missing-column",
        _run("--suite", "{tmp}/trace_suite.yaml"),
        ("trace.csv", "no arrival-time column"),
        _trace_suite("ContextTokens,GeneratedTokens\n3,4\n"),
    ),
    Case(
        "trace-unsorted",
        _run("--suite", "{tmp}/trace_suite.yaml"),
        ("trace.csv line 3", "TIMESTAMP goes back in time"),
        _trace_suite("TIMESTAMP,ContextTokens\n5,3\n4,3\n"),
    ),
    Case(
        "trace-bad-time-scale",
        _run("--suite", "{tmp}/trace_suite.yaml"),
        ("trace_suite.yaml:6", "time_scale"),
        _trace_suite("TIMESTAMP,ContextTokens\n0,3\n", "    time_scale: -2\n"),
    ),
    Case(
        "suite-constraint-out-of-range",
        _run("--suite", "{bad}/suite_bad_constraint.yaml"),
        ("suite_bad_constraint.yaml:5", "min_accuracy"),
    ),
    Case("suite-missing-file", _run("--suite", "{tmp}/nowhere.yaml"), ("nowhere.yaml", "not found")),
    Case("suite-is-a-directory", _run("--suite", "{bad}"), ("data/bad", "is a directory")),
    Case("suite-unknown-name", _run("--suite", "quik"), ("--suite", "quik")),
    # -- model catalogs ---------------------------------------------------------------------------
    Case(
        "catalog-missing-tier",
        _run("--catalog", "{bad}/catalog_missing_tier.yaml"),
        ("catalog_missing_tier.yaml", "tier"),
    ),
    Case("catalog-unknown-tier", _run("--catalog", "{bad}/catalog_bad_tier.yaml"), ("catalog_bad_tier.yaml:4", "tier")),
    Case(
        "catalog-inline-api-key",
        _run("--catalog", "{bad}/catalog_inline_key.yaml"),
        ("catalog_inline_key.yaml", "api_key_env"),
    ),
    Case(
        "catalog-duplicate-name", _run("--catalog", "{bad}/catalog_duplicate.yaml"), ("catalog_duplicate.yaml", "twin")
    ),
    Case(
        "catalog-no-models",
        _run("--catalog", "{bad}/catalog_empty_models.yaml"),
        ("catalog_empty_models.yaml", "models"),
    ),
    Case(
        "catalog-bad-model-name", _run("--catalog", "{bad}/catalog_bad_name.yaml"), ("catalog_bad_name.yaml:3", "name")
    ),
    Case(
        "catalog-unknown-backend-param",
        _run("--catalog", "{bad}/catalog_bad_params.yaml", "--models", "typo"),
        ("catalog_bad_params.yaml:9", "model 'typo' params", "'n_ctxx'", "unknown field"),
    ),
    # backend params are validated when the catalog loads, whichever model the command asks for
    Case(
        "catalog-backend-param-out-of-range",
        _run("--catalog", "{bad}/catalog_bad_n_ctx.yaml"),
        ("catalog_bad_n_ctx.yaml:8", "model 'tight' params", "'n_ctx'", "greater than or equal to 64"),
    ),
    Case(
        "catalog-backend-param-listed",
        ("models", "list", "--catalog", "{bad}/catalog_bad_n_ctx.yaml"),
        ("catalog_bad_n_ctx.yaml:8", "model 'tight' params", "'n_ctx'"),
    ),
    Case(
        "catalog-unknown-backend",
        _run("--catalog", "{bad}/catalog_unknown_backend.yaml"),
        ("catalog_unknown_backend.yaml:5", "model 'plugin'", "unknown backend 'not-installed'", "llamacpp"),
    ),
    Case(
        "catalog-unknown-backend-listed",
        ("models", "list", "--catalog", "{bad}/catalog_unknown_backend.yaml"),
        ("catalog_unknown_backend.yaml:5", "model 'plugin'", "unknown backend 'not-installed'"),
    ),
    Case(
        "catalog-cascade-unknown-tier",
        _run("--catalog", "{bad}/catalog_cascade_unknown_tier.yaml"),
        ("catalog_cascade_unknown_tier.yaml", "model 'chained'", "unknown model 'nope'"),
    ),
    Case(
        "catalog-secret-header",
        _run("--catalog", "{bad}/catalog_secret_header.yaml", "--models", "remote"),
        ("catalog_secret_header.yaml", "header_env"),
    ),
    Case(
        "catalog-negative-price",
        _run("--catalog", "{bad}/catalog_negative_price.yaml"),
        ("catalog_negative_price.yaml:9", "output_per_mtok"),
    ),
    Case("catalog-missing-file", _run("--catalog", "{tmp}/catalog.yaml"), ("catalog.yaml", "not found")),
    # variants matrices (docs/variants.md)
    Case(
        "catalog-variant-unknown-param",
        _run("--catalog", "{bad}/catalog_variant_unknown_param.yaml"),
        ("catalog_variant_unknown_param.yaml:9", "model 'mini'", "'variants.reasoning_efort'", "backend 'openai'"),
    ),
    Case(
        "catalog-variant-no-values",
        _run("--catalog", "{bad}/catalog_variant_empty.yaml"),
        ("catalog_variant_empty.yaml:7", "variants", "'reasoning_effort' lists no values"),
    ),
    Case(
        "catalog-variant-too-many",
        _run("--catalog", "{bad}/catalog_variant_too_many.yaml"),
        ("catalog_variant_too_many.yaml:7", "variants", "72 combinations; at most 64"),
    ),
    Case(
        "catalog-variant-name-collides",
        _run("--catalog", "{bad}/catalog_variant_collides.yaml"),
        ("catalog_variant_collides.yaml:11", "model 'mini'", "variant 'mini@high'", "another catalog model"),
    ),
    Case(
        "catalog-variant-bad-value",
        _run("--catalog", "{bad}/catalog_variant_bad_value.yaml"),
        ("catalog_variant_bad_value.yaml:8", "model 'mini@extreme' params", "'reasoning_effort'"),
    ),
    # -- hardware profiles ------------------------------------------------------------------------
    Case(
        "profile-missing-power",
        _run("--profiles", "{bad}/profile_missing_power.yaml"),
        ("profile_missing_power.yaml", "power"),
    ),
    Case(
        "profile-zero-cores",
        _run("--profiles", "{bad}/profile_zero_cores.yaml"),
        ("profile_zero_cores.yaml:4", "cores"),
    ),
    Case(
        "profile-watts-inverted",
        _run("--profiles", "{bad}/profile_watts_inverted.yaml"),
        ("profile_watts_inverted.yaml", "max_watts"),
    ),
    Case(
        "profile-extends-cycle",
        _run("--profiles", "{bad}/profile_cycle_a.yaml"),
        ("profile_cycle_", "cycle", "profile_cycle_a -> profile_cycle_b"),
    ),
    Case(
        "profile-extends-unknown",
        _run("--profiles", "{bad}/profile_unknown_parent.yaml"),
        ("profile_unknown_parent.yaml", "no-such-device"),
    ),
    Case(
        "profile-unknown-class",
        _run("--profiles", "{bad}/profile_bad_class.yaml"),
        ("profile_bad_class.yaml:3", "class"),
    ),
    Case("profile-unknown-name", _run("--profiles", "host,mainframe-9000"), ("--profiles", "mainframe-9000")),
    # -- task files and their data ------------------------------------------------------------------
    Case("task-unknown-name", _run("--tasks", "arithmetic,nosuch"), ("--tasks", "nosuch")),
    Case("task-file-missing", _run("--tasks", "{tmp}/mine.yaml"), ("--tasks", "mine.yaml", "not found")),
    Case(
        "task-missing-field",
        _run("--tasks", T + "task_missing_output_type.yaml"),
        ("task_missing_output_type.yaml", "output_type"),
    ),
    Case("task-unknown-field", _run("--tasks", T + "task_unknown_field.yaml"), ("task_unknown_field.yaml", "'prompt'")),
    Case(
        "task-bad-output-type", _run("--tasks", T + "task_bad_output_type.yaml"), ("task_bad_output_type.yaml", "chat")
    ),
    Case(
        "task-unknown-metric", _run("--tasks", T + "task_bad_metric.yaml"), ("task_bad_metric.yaml", "accuracy_score")
    ),
    Case(
        "task-bad-callable",
        _run("--tasks", T + "task_bad_callable.yaml"),
        ("task_bad_callable.yaml", "process_results"),
    ),
    Case("task-not-utf8", _run("--tasks", T + "task_not_utf8.yaml"), ("task_not_utf8.yaml", "UTF-8")),
    Case(
        "data-file-missing", _run("--tasks", T + "data_missing_file.yaml"), ("data_missing_file.yaml", "nowhere.jsonl")
    ),
    Case("data-empty", _run("--tasks", T + "data_empty.yaml"), ("empty.jsonl", "empty")),
    Case("data-not-utf8", _run("--tasks", T + "data_not_utf8.yaml"), ("not_utf8.jsonl", "UTF-8")),
    Case("data-not-json", _run("--tasks", T + "data_not_json.yaml"), ("not_json.jsonl", "line 2", "JSON")),
    Case("data-not-object", _run("--tasks", T + "data_not_object.yaml"), ("not_object.jsonl", "line 2", "object")),
    Case(
        "data-missing-field",
        _run("--tasks", T + "data_missing_field.yaml"),
        ("missing_field.jsonl", "line 3", "'answer'"),
    ),
    Case("data-wrong-type", _run("--tasks", T + "data_wrong_type.yaml"), ("wrong_type.jsonl", "line 2", "'question'")),
    # -- gate rules -------------------------------------------------------------------------------
    Case(
        "rules-unknown-metric",
        (*GATE, "{bad}/rules_unknown_metric.yaml"),
        ("rules_unknown_metric.yaml:3", "latency"),
        _good_run,
    ),
    Case(
        "rules-two-tolerances",
        (*GATE, "{bad}/rules_two_tolerances.yaml"),
        ("rules_two_tolerances.yaml", "tolerance"),
        _good_run,
    ),
    Case("rules-none", (*GATE, "{bad}/rules_empty.yaml"), ("rules_empty.yaml", "rules"), _good_run),
    Case(
        "rules-accuracy-percent",
        (*GATE, "{bad}/rules_accuracy_percent.yaml"),
        ("rules_accuracy_percent.yaml", "floor"),
        _good_run,
    ),
    Case(
        "rules-wrong-direction",
        (*GATE, "{bad}/rules_wrong_direction.yaml"),
        ("rules_wrong_direction.yaml", "max_increase"),
        _good_run,
    ),
    Case(
        "rules-level-out-of-range",
        (*GATE, "{bad}/rules_bad_level.yaml"),
        ("rules_bad_level.yaml:2", "level"),
        _good_run,
    ),
    Case("rules-missing-file", (*GATE, "{tmp}/gate.yaml"), ("gate.yaml", "not found"), _good_run),
    # -- command-line flags -----------------------------------------------------------------------
    Case("flag-limit-zero", _run("--limit", "0"), ("--limit",)),
    Case("flag-limit-not-a-number", _run("--limit", "ten"), ("--limit", "ten")),
    Case("flag-cell-timeout-zero", _run("--cell-timeout", "0"), ("--cell-timeout",)),
    Case("flag-min-accuracy-above-one", _run("--min-accuracy", "1.5"), ("--min-accuracy",)),
    Case("flag-unknown-objective", _run("--objective", "prettiest"), ("--objective", "prettiest")),
    Case("flag-unknown-model", _run("--models", "nano,nanoo"), ("--models", "nanoo")),
    Case("flag-missing-data-dir", _run("--data-dir", "{tmp}/no-data"), ("--data-dir", "no-data")),
    Case("flag-misspelt-option", _run("--modles", "nano"), ("--modles",)),
    Case("flag-unknown-command", ("benchmark",), ("benchmark",)),
    Case(
        "flag-out-is-a-file",
        ("run", "--suite", str(TINY_SUITE), "--out", "{tmp}/blocker/run"),
        ("--out",),
        _file_in_the_way,
    ),
    Case(
        "flag-out-holds-a-run",
        ("run", "--suite", str(TINY_SUITE), "--models", "nano", "--out", "{tmp}/run"),
        ("--out", "already holds a run", "--resume"),
        _good_run,
    ),
    Case("flag-gate-without-rules", ("gate", "{tmp}/run", "--baseline", "{tmp}/run"), ("--rules",), _good_run),
    # -- run directories and baselines ------------------------------------------------------------
    Case("resume-missing-directory", ("run", "--resume", "{tmp}/gone"), ("gone", "no such run directory")),
    Case("resume-not-a-run", ("run", "--resume", "{tmp}/run"), ("run", "meta.json"), _no_meta),
    Case("resume-meta-not-json", ("run", "--resume", "{tmp}/run"), ("meta.json", "corrupted"), _meta_not_json),
    Case("resume-meta-not-object", ("run", "--resume", "{tmp}/run"), ("meta.json", "corrupted"), _meta_is_list),
    Case(
        "resume-meta-other-schema-version",
        ("run", "--resume", "{tmp}/run"),
        ("meta.json", "'schema_version' is 99", "schema version 1"),
        _edit_meta(schema_version=99),
    ),
    Case(
        "report-meta-non-integer-schema-version",
        ("report", "{tmp}/run"),
        ("meta.json", "'schema_version' is '1'", "schema version 1"),
        _edit_meta(schema_version="1"),
    ),
    Case(
        "gate-meta-missing-field",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("meta.json", "field 'options' is missing", "schema version 1"),
        _drop_meta("options"),
    ),
    Case(
        "compare-meta-missing-field",
        ("compare", "{tmp}/run", "{tmp}/run"),
        ("meta.json", "field 'options' is missing", "schema version 1"),
        _drop_meta("options"),
    ),
    Case(
        "baseline-from-non-run", ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"), ("run", "meta.json"), _no_meta
    ),
    Case(
        "run-cells-parquet-garbage",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("cells.parquet", "corrupted"),
        _cells_garbage,
    ),
    Case(
        "run-requests-parquet-truncated",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("requests.parquet", "corrupted"),
        _requests_truncated,
    ),
    Case(
        "run-samples-torn-line",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("samples.jsonl:2", "corrupted"),
        _samples_torn_middle,
    ),
    Case(
        "run-samples-not-utf8",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("samples.jsonl:2", "corrupted"),
        _samples_not_utf8,
    ),
    Case("report-non-run", ("report", "{tmp}/run"), ("run", "meta.json"), _no_meta),
    Case("report-missing-run", ("report", "{tmp}/nothing"), ("nothing", "no such run directory")),
    Case("report-cells-garbage", ("report", "{tmp}/run"), ("cells.parquet", "corrupted"), _cells_garbage),
    Case("compare-meta-not-json", ("compare", "{tmp}/run", "{tmp}/run"), ("meta.json", "corrupted"), _meta_not_json),
    Case("compare-missing-run", ("compare", "{tmp}/run", "{tmp}/other"), ("other",), _good_run),
    Case("profiles-show-unknown", ("profiles", "show", "mainframe"), ("mainframe", "unknown profile")),
    Case(
        "models-list-bad-catalog",
        ("models", "list", "--catalog", "{bad}/catalog_bad_tier.yaml"),
        ("catalog_bad_tier.yaml:4",),
    ),
    Case("tasks-list-missing-data-dir", ("tasks", "list", "--data-dir", "{tmp}/no-data"), ("--data-dir", "no-data")),
    Case(
        "gate-run-missing",
        ("gate", "{tmp}/nothing", "--baseline", "{tmp}/run", "--rules", "{tmp}/gate.yaml"),
        ("nothing",),
        _gate_rules,
    ),
    Case(
        "baseline-truncated",
        ("gate", "{tmp}/run", "--baseline", "{tmp}/base.json.gz", "--rules", "{tmp}/gate.yaml"),
        ("--baseline", "base.json.gz", "corrupted"),
        _baseline_truncated,
    ),
    Case(
        "baseline-tampered",
        ("baseline", "show", "{tmp}/base.json.gz"),
        ("base.json.gz", "checksum"),
        _baseline_tampered,
    ),
    Case(
        "baseline-future-version",
        ("baseline", "show", "{tmp}/base.json.gz"),
        ("base.json.gz", "version"),
        _baseline_future,
    ),
    # -- hardening (issue 17) -----------------------------------------------------------------------
    Case("yaml-alias-bomb", _run("--catalog", "{bad}/catalog_alias_bomb.yaml"), ("catalog_alias_bomb.yaml", "alias")),
    Case(
        "yaml-duplicate-key",
        _run("--suite", "{bad}/suite_duplicate_key.yaml"),
        ("suite_duplicate_key.yaml", "line 6", "duplicate key 'limit'"),
    ),
    Case("yaml-too-deep", _run("--suite", "{tmp}/deep.yaml"), ("deep.yaml", "nested deeper"), _deep_yaml),
    Case(
        "yaml-nan-in-profile",
        _run("--profiles", "{bad}/profile_nan_power.yaml"),
        ("profile_nan_power.yaml", "line 6", "non-finite"),
    ),
    Case(
        "yaml-inf-in-suite",
        _run("--suite", "{bad}/suite_infinite_timeout.yaml"),
        ("suite_infinite_timeout.yaml", "line 6", "non-finite"),
    ),
    Case(
        "rules-nan-limit",
        (*GATE, "{bad}/rules_nan_limit.yaml"),
        ("rules_nan_limit.yaml", "line 4", "non-finite"),
        _good_run,
    ),
    Case(
        "rules-nan-string",
        (*GATE, "{bad}/rules_nan_string.yaml"),
        ("rules_nan_string.yaml:4", "ceiling", "finite"),
        _good_run,
    ),
    Case("flag-cell-timeout-nan", _run("--cell-timeout", "nan"), ("--cell-timeout", "finite")),
    Case("flag-max-memory-inf", _run("--max-memory-mb", "inf"), ("--max-memory-mb", "finite")),
    Case(
        "baseline-nan",
        ("gate", "{tmp}/run", "--baseline", "{tmp}/base.json.gz", "--rules", "{tmp}/gate.yaml"),
        ("--baseline", "base.json.gz", "non-finite"),
        _baseline_nan,
    ),
    Case(
        "run-cells-text-in-number",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("cells.parquet", "peak_rss_mb", "'lots'"),
        _edit_table("cells", "peak_rss_mb", "lots"),
    ),
    Case(
        "run-requests-infinite",
        (*GATE, "{tmp}/gate.yaml"),
        ("requests.parquet", "ttft_s", "non-finite"),
        _edit_table("requests", "ttft_s", float("inf")),
    ),
    Case(
        "run-meta-wrong-type",
        ("report", "{tmp}/run"),
        ("meta.json", "field 'models'", "list"),
        _edit_meta(models="nano"),
    ),
    Case(
        "resume-meta-option-wrong-type",
        ("run", "--resume", "{tmp}/run"),
        ("meta.json", "options.limit"),
        _edit_meta(options={"limit": "ten"}),
    ),
    Case(
        "resume-with-conflicting-flag",
        ("run", "--resume", "{tmp}/run", "--models", "mini"),
        ("--models", "--resume"),
        _good_run,
    ),
    Case(
        "suite-is-a-fifo", _run("--suite", "{tmp}/pipe.yaml"), ("pipe.yaml", "not a regular file"), _fifo("pipe.yaml")
    ),
    Case(
        "catalog-is-a-fifo",
        _run("--catalog", "{tmp}/pipe.yaml"),
        ("pipe.yaml", "not a regular file"),
        _fifo("pipe.yaml"),
    ),
    Case("catalog-is-a-directory", _run("--catalog", "{bad}"), ("data/bad", "is a directory")),
    Case(
        "profile-is-a-fifo",
        _run("--profiles", "{tmp}/pipe.yaml"),
        ("pipe.yaml", "not a regular file"),
        _fifo("pipe.yaml"),
    ),
    Case("rules-is-a-fifo", (*GATE, "{tmp}/pipe.yaml"), ("pipe.yaml", "not a regular file"), _fifo("pipe.yaml")),
    Case(
        "baseline-is-a-fifo",
        ("gate", "{tmp}/run", "--baseline", "{tmp}/pipe.gz", "--rules", "{tmp}/gate.yaml"),
        ("--baseline", "pipe.gz", "not a regular file"),
        _fifo_with_rules("pipe.gz"),
    ),
    Case(
        "task-data-is-a-fifo", _run("--tasks", "{tmp}/task.yaml"), ("pipe.jsonl", "not a regular file"), _fifo_task_data
    ),
    Case(
        "profile-extends-chain-too-long",
        _run("--profiles", "{tmp}/p19.yaml"),
        ("extends", "chain longer than"),
        _long_extends,
    ),
    Case("flag-out-too-long", _run("--out", "{tmp}/" + "x" * 300), ("--out", "300 bytes")),
    Case("report-path-too-long", ("report", "{tmp}/" + "y" * 300), ("yyyy", "too long")),
    Case("profile-path-too-long", _run("--profiles", "z" * 300), ("zzzz", "too long")),
    Case("flag-out-not-utf8", _run("--out", "{tmp}/caf\udce9"), ("--out", "UTF-8")),
    Case(
        "suite-duplicate-task",
        _run("--suite", "{bad}/suite_duplicate_task.yaml"),
        ("suite_duplicate_task.yaml", "arithmetic", "twice"),
    ),
    Case(
        "suite-duplicate-scenario",
        _run("--suite", "{bad}/suite_duplicate_scenario.yaml"),
        ("suite_duplicate_scenario.yaml", "short"),
    ),
    Case("flag-task-twice", _run("--tasks", "arithmetic,arithmetic"), ("--tasks", "arithmetic", "twice")),
    # -- issue 23 ----------------------------------------------------------------------------------
    Case(
        "run-cells-missing-column",
        ("report", "{tmp}/run"),
        ("cells.parquet", "column 'model' is missing"),
        _drop_column("cells", "model"),
    ),
    Case(
        "run-requests-missing-column",
        (*GATE, "{tmp}/gate.yaml"),
        ("requests.parquet", "column 'scenario' is missing"),
        _drop_column("requests", "scenario"),
    ),
    Case(
        "run-samples-line-is-an-array",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("samples.jsonl:2", "a JSON array, not an object"),
        _samples_line("[1, 2]"),
    ),
    Case(
        "run-samples-line-is-a-string",
        ("compare", "{tmp}/run", "{tmp}/run"),
        ("samples.jsonl:2", "a JSON string, not an object"),
        _samples_line('"x"'),
    ),
    Case(
        "run-samples-line-is-null",
        (*GATE, "{tmp}/gate.yaml"),
        ("samples.jsonl:2", "a JSON null, not an object"),
        _samples_line("null"),
    ),
    Case(
        "run-cells-is-a-directory",
        (*GATE, "{tmp}/gate.yaml"),
        ("cells.parquet", "is a directory, expected a table"),
        _directory_for("cells.parquet"),
    ),
    Case(
        "run-requests-is-a-directory",
        ("report", "{tmp}/run"),
        ("requests.parquet", "is a directory"),
        _directory_for("requests.parquet"),
    ),
    Case(
        "run-meta-is-a-directory",
        ("baseline", "save", "{tmp}/run", "--to", "{tmp}/b.gz"),
        ("meta.json", "is a directory"),
        _directory_for("meta.json"),
    ),
    Case(
        "run-samples-is-a-directory",
        ("report", "{tmp}/run"),
        ("samples.jsonl", "is a directory"),
        _directory_for("samples.jsonl"),
    ),
    Case(
        "run-requests-is-a-fifo",
        ("compare", "{tmp}/run", "{tmp}/run"),
        ("requests.parquet", "not a regular file"),
        _fifo_for("requests.parquet"),
    ),
    Case(
        "run-meta-is-a-fifo",
        ("report", "{tmp}/run"),
        ("meta.json", "not a regular file"),
        _fifo_for("meta.json"),
    ),
    Case(
        "resume-lock-is-a-directory",
        ("run", "--resume", "{tmp}/run", "--no-report"),
        (".lock", "is a directory"),
        _lock_is_a_directory,
    ),
    Case(
        "baseline-not-a-baseline",
        ("baseline", "show", "{tmp}/notes.txt"),
        ("notes.txt", "not a tierbench baseline"),
        _plain_text,
    ),
]


def _expand(text: str, tmp: Path) -> str:
    return text.replace("{bad}", str(BAD)).replace("{tmp}", str(tmp))


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 110
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_one_line_and_exit_code_2(case: Case, tmp_path: Path) -> None:
    if case.setup is not None:
        case.setup(tmp_path)
    args = [_expand(arg, tmp_path) for arg in case.args]
    result = CliRunner().invoke(cli, args)
    err = result.stderr.strip()
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{err}\n{result.exception!r}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output + err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("Error: "), err
    for needle in case.expect:
        assert _expand(needle, tmp_path) in err, f"{needle!r} not in: {err}"
    if "{tmp}/out" in case.args:  # an input error leaves no run directory behind
        assert not (tmp_path / "out").exists(), "a run directory was created for an input error"


# -- inputs that are valid but used to break a reader ---------------------------------------------
def test_markup_in_names_and_reasons_is_printed_as_text(tmp_path: Path) -> None:
    """``[/]`` or ``[bold]`` in a name, path or reason is data: rich must not read it as markup."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "models:\n  - name: weird\n    tier: nano\n    backend: llamacpp\n"
        f"    params: {{model_path: '{tmp_path}/[/]no[bold].gguf'}}\n",
        encoding="utf-8",
    )
    listed = CliRunner().invoke(cli, ["models", "list", "--catalog", str(catalog)])
    assert listed.exit_code == 0, listed.output
    assert "weird" in listed.output
    marked = "nano[/]x[bold]"
    write_run(tmp_path / "a", [Cell(model=marked, profile="host[/INST]", reason="[/]")])
    write_run(tmp_path / "b", [Cell(model=marked, profile="host[/INST]", reason="[/]")])
    wide = {"COLUMNS": "250"}
    compared = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--all"], env=wide)
    assert compared.exit_code == 0, f"{compared.output}\n{compared.exception!r}"
    assert "[/INST]" in compared.output


def test_jsonl_with_line_separators_inside_strings_loads(tmp_path: Path) -> None:
    """U+2028/U+2029 are valid raw inside a JSON string; ``str.splitlines`` used to cut the line there."""
    from harness.evaluation.taskdefs import load_taskdef, read_docs

    items = [{"question": f"line\u2028break\u2029{i}", "answer": str(i)} for i in range(3)]
    data = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    (tmp_path / "items.jsonl").write_text(data, encoding="utf-8")
    text = (BAD / "tasks" / "data_missing_file.yaml").read_text(encoding="utf-8")
    (tmp_path / "task.yaml").write_text(text.replace("nowhere.jsonl", "items.jsonl"), encoding="utf-8")
    docs = read_docs(load_taskdef(tmp_path / "task.yaml", "custom"), None)
    assert [doc["question"] for doc in docs] == [item["question"] for item in items]


def test_task_names_with_markup_are_printed_as_text(tmp_path: Path) -> None:
    """A task is named by its own YAML file, so ``[bold red]x[/]`` or ``[link=...]`` is data: every
    table, reason and error line that names it shows it as written."""
    bold, link = "[bold red]x[/]", "[link=https://e.io]y[/link]"
    tasks = {bold: outcomes(40, 0.6), link: outcomes(40, 0.5, seed=1)}
    for name in ("a", "b"):
        cells = [Cell(tasks=tasks)] + ([Cell(model="[bold]m[/]\nnext", tasks=tasks)] if name == "b" else [])
        run = write_run(tmp_path / name, cells)
        scores = [
            {"model": c.model, "profile": "host", "task": t, "metric": "exact_match", "value": 0.5, "n": 40}
            for c in cells
            for t in tasks
        ]
        RunStore.open(run).write_table("scores", pd.DataFrame(scores))
    wide = {"COLUMNS": "250"}
    compared = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--all"], env=wide)
    assert compared.exit_code == 0, f"{compared.output}\n{compared.exception!r}"
    said = " ".join(compared.output.split())  # rich wraps long lines
    assert f"{bold} (items)" in said and f"{link} (items)" in said
    assert "Only in B: [bold]m[/]\\nnext on host" in compared.output  # one line, the break shown as \n

    rules = tmp_path / "gate.yaml"
    rules.write_text(
        f"min_items: 10\nrules:\n  - metric: 'accuracy:{bold}'\n    max_drop_points: 5\n"
        f"  - metric: 'accuracy:{link}'\n    model: nano\n    max_drop_points: 5\n",
        encoding="utf-8",
    )
    gated = CliRunner().invoke(
        cli, ["gate", str(tmp_path / "b"), "--baseline", str(tmp_path / "a"), "--rules", str(rules)], env=wide
    )
    said = " ".join(gated.output.split())
    assert f"accuracy:{bold} [nano: nano@host]: no significant change" in said, gated.output
    assert f"accuracy:{link} [nano: nano@host]" in said
    rules.write_text("rules:\n  - metric: 'accuracy:[blink]z[/blink]'\n    max_drop_points: 5\n", encoding="utf-8")
    refused = CliRunner().invoke(
        cli, ["gate", str(tmp_path / "b"), "--baseline", str(tmp_path / "a"), "--rules", str(rules)]
    )
    assert refused.exit_code == 2
    assert "task '[blink]z[/blink]' is in neither" in refused.stderr and bold in refused.stderr


def test_report_skips_a_samples_line_that_is_no_record_and_says_so(tmp_path: Path) -> None:
    """The report pages through samples.jsonl and tolerates what it cannot show (the gate does not)."""
    _samples_line("[1, 2]")(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "run")])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "1 unreadable line(s) in samples.jsonl were skipped" in report


# -- --resume over a cell whose status.json cannot be read ----------------------------------------
STATUS_DAMAGE: dict[str, Callable[[Path], None]] = {
    "intact": lambda path: None,  # the control: a finished cell is not run again
    "garbage": lambda path: path.write_bytes(b"\x00\xffnot json"),
    "directory": lambda path: (path.unlink(), path.mkdir(), (path / "x").write_text("x")),  # type: ignore[func-returns-value]
    "wrong-schema": lambda path: path.write_text('{"status": "finished", "extra": 1}', encoding="utf-8"),
}


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A finished run of one model served by the local OpenAI-compatible stub (no llama.cpp decode);
    the stub keeps serving while the tests resume copies of it."""
    root = tmp_path_factory.mktemp("stub-run")
    with openai_stub("stream") as (url, _state):
        catalog = stub_catalog(root / "catalog.yaml", url)
        scenario = {"name": "short", "prompt_tokens": [8], "output_tokens": [4], "requests": 2, "warmup": 1}
        suite = root / "suite.yaml"
        suite.write_text(json.dumps({"name": "stub", "scenarios": [scenario]}), encoding="utf-8")
        yield assert_ran(
            harness.run(suite=str(suite), catalog=catalog, models=["stub"], report=False, out=root / "run")
        )


@pytest.mark.server
@pytest.mark.parametrize("damage", sorted(STATUS_DAMAGE))
def test_resume_runs_a_cell_again_when_its_status_is_unreadable(damage: str, stub_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(stub_run, run)
    status = run / "cells" / "stub@host" / "status.json"
    STATUS_DAMAGE[damage](status)
    before = status.stat().st_mtime_ns
    result = CliRunner().invoke(cli, ["run", "--resume", str(run), "--no-report"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    said = " ".join(result.output.split())
    if damage == "intact":
        assert status.stat().st_mtime_ns == before and "running the cell again" not in said
    else:  # a worker ran the cell again and wrote a status of its own
        assert "status.json" in said and "running the cell again" in said, said
        assert read_record(status, CellResult).status == CellStatus.OK
    cells = RunStore.open(run).read_table("cells")
    assert list(cells["status"]) == ["ok"]
    # the collector counts with the one definition of a measured request: 2 measured, 1 warm-up, none failed
    assert cells[["n_requests", "warmup_requests", "n_errors"]].values.tolist() == [[2, 1, 0]]
