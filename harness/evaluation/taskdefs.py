"""Task files: lm-eval YAML plus ``data`` (a JSONL file beside it) or ``loader`` (harness.evaluation.datasets),
and ``about``; checked before lm-eval sees them. ``process_results`` is ``module:function`` (no code in task files).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import strictjson
from harness.config.loading import MAX_CONFIG_BYTES, check_regular_file, parse_yaml, read_text_file
from harness.errors import ConfigError, UserError
from harness.strictjson import jsonl_lines

OWN_KEYS = {"data", "loader", "about"}
OUTPUT_TYPES = {"multiple_choice", "generate_until", "loglikelihood", "loglikelihood_rolling"}
NEEDS_LOGLIKELIHOOD = {"multiple_choice", "loglikelihood", "loglikelihood_rolling"}
REQUIRED = ("task", "output_type", "doc_to_text", "metric_list")


def recorded_metric_name(metric: str, filter_name: str) -> str:
    """The name a score row carries: lm-eval's metric, qualified by its filter unless that is "none"."""
    return metric if filter_name == "none" else f"{metric}/{filter_name}"


@dataclass(frozen=True)
class TaskDef:
    """One task file, validated."""

    name: str
    path: Path
    kind: str  # builtin | benchmark
    config: dict[str, Any]  # lm-eval keys only
    data: Path | None
    loader: str | None
    about: str

    @property
    def metrics(self) -> list[str]:
        return [str(m["metric"]) for m in self.config["metric_list"]]

    @property
    def recorded_metrics(self) -> list[str]:
        """The metric names a run records for this task: ``metric/filter`` under each named filter."""
        filters = [str(f["name"]) for f in self.config.get("filter_list") or []] or ["none"]
        return [recorded_metric_name(m, f) for f in filters for m in self.metrics]

    @property
    def output_type(self) -> str:
        return str(self.config["output_type"])

    @property
    def needs_loglikelihood(self) -> bool:
        return self.output_type in NEEDS_LOGLIKELIHOOD


def resolve_callable(ref: str, where: str) -> Callable[..., Any]:
    """``package.module:function`` -> the function (a ConfigError naming ``where`` if absent)."""
    module_name, _, attr = ref.partition(":")
    try:
        target: object = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"{where}: cannot import '{ref}' (write it as package.module:function)") from None
    if not callable(target):
        raise ConfigError(f"{where}: '{ref}' is not a function")
    return target


def load_taskdef(path: Path, kind: str) -> TaskDef:
    """Read and check one task file."""
    raw = parse_yaml(read_text_file(path, "task file", max_bytes=MAX_CONFIG_BYTES), str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a task file must be a mapping of lm-eval task fields")
    from lm_eval.api.task import TaskConfig

    allowed = {f.name for f in dataclasses.fields(TaskConfig)} | OWN_KEYS
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = (
                f"did you mean '{close[0]}'?" if close else f"not an lm-eval task field nor one of {sorted(OWN_KEYS)}"
            )
            raise ConfigError(f"{path}: unknown field '{key}' ({hint})")
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError(f"{path}: field '{key}' is missing")
    if raw["output_type"] not in OUTPUT_TYPES:
        raise ConfigError(f"{path}: field 'output_type' is '{raw['output_type']}'; use one of {sorted(OUTPUT_TYPES)}")
    if ("data" in raw) == ("loader" in raw):
        raise ConfigError(f"{path}: give exactly one of field 'data' (a JSONL file next to the YAML) or 'loader'")
    data: Path | None = None
    if "data" in raw:
        data = (path.parent / str(raw["data"])).resolve()
        if not data.exists():
            raise ConfigError(f"{path}: field 'data': file not found: {data}")
        check_regular_file(data, "JSONL data file", prefix=f"{path}: field 'data': ")
    if "loader" in raw:
        from harness.evaluation.datasets import LOADERS

        if raw["loader"] not in LOADERS:
            raise ConfigError(f"{path}: field 'loader': unknown loader '{raw['loader']}' (known: {', '.join(LOADERS)})")
    metrics = raw["metric_list"]
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, dict) and "metric" in m for m in metrics):
        raise ConfigError(f"{path}: field 'metric_list' must be a non-empty list of {{metric: name, ...}}")
    config = {k: v for k, v in raw.items() if k not in OWN_KEYS}
    if "process_results" in config:
        config["process_results"] = resolve_callable(str(config["process_results"]), f"{path}: field 'process_results'")
    else:
        import lm_eval.api.metrics  # noqa: F401  (registers the metrics)
        from lm_eval.api.registry import AGGREGATION_REGISTRY, METRIC_REGISTRY

        known = set(METRIC_REGISTRY) | set(AGGREGATION_REGISTRY)
        for index, metric in enumerate(metrics):
            if metric["metric"] not in known:
                close = difflib.get_close_matches(str(metric["metric"]), sorted(known), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "an lm-eval metric such as acc or exact_match"
                raise ConfigError(
                    f"{path}: field 'metric_list[{index}].metric': unknown metric '{metric['metric']}' ({hint})"
                )
    return TaskDef(str(raw["task"]), path, kind, config, data, raw.get("loader"), str(raw.get("about", "")))


def discover() -> dict[str, Path]:
    """Task name -> file, for the built-in and benchmark folders (names are the file stems)."""
    base = Path(str(files("harness.tasks")))
    return {path.stem: path for folder in ("builtin", "benchmarks") for path in sorted((base / folder).glob("*.yaml"))}


def shipped_taskdef(path: Path) -> TaskDef:
    """A task file from the package's built-in or benchmark folder (a path ``discover`` returned)."""
    return load_taskdef(path, "benchmark" if path.parent.name == "benchmarks" else "builtin")


def get_taskdef(name: str) -> TaskDef:
    """A task by name, or a path to a task YAML."""
    known = discover()
    if name in known:
        return shipped_taskdef(known[name])
    candidate = Path(name)
    if candidate.suffix in {".yaml", ".yml"}:
        if not candidate.is_file():
            raise UserError(f"--tasks: task file not found: {candidate}")
        return load_taskdef(candidate.resolve(), "custom")
    raise UserError(f"--tasks: unknown task '{name}' (see 'tierbench tasks list'; or give a task YAML path)")


def read_docs(task: TaskDef, data_dir: Path | None) -> list[dict[str, Any]]:
    """The task's documents, in order."""
    if task.data is not None:
        return _read_data_file(task.data)
    from harness.evaluation.datasets import load_benchmark

    assert task.loader is not None
    return load_benchmark(task.loader, data_dir)


def _read_data_file(path: Path) -> list[dict[str, Any]]:
    """Items of a task's JSONL file: objects that all have the first item's fields, of its types."""
    text = read_text_file(path, "JSONL data file")
    docs: list[dict[str, Any]] = []
    for number, line in enumerate(jsonl_lines(text), 1):  # not splitlines: U+2028 is valid inside a string
        if not line.strip():
            continue
        doc = strictjson.jsonl_object(line, f"{path}: line {number}")
        for key, value in (docs[0] if docs else doc).items():
            if key not in doc:
                raise ConfigError(f"{path}: line {number}: field '{key}' is missing (the first item has it)")
            if not _same_kind(value, doc[key]):
                raise ConfigError(
                    f"{path}: line {number}: field '{key}' is {_kind(doc[key])}; the first item's is {_kind(value)}"
                )
        docs.append(doc)
    if not docs:
        raise ConfigError(f"{path}: no items (the file is empty); add one JSON object per line")
    return docs


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _same_kind(a: Any, b: Any) -> bool:
    return a is None or b is None or _kind(a) == _kind(b)
