"""Run tasks on a backend through lm-eval and report scores with their uncertainty."""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import sandbox
from harness.backends.base import Backend
from harness.backends.confidence import gen_confidence, mc_confidence, normalised_logliks
from harness.errors import UserError
from harness.evaluation import scorers
from harness.evaluation.pacing import AdaptiveLimit, PacingStats, eval_concurrency
from harness.evaluation.sink import EvalSink
from harness.evaluation.stats import Estimate, bootstrap_estimate, mean_estimate
from harness.evaluation.taskdefs import TaskDef, discover, get_taskdef, read_docs, recorded_metric_name, shipped_taskdef
from harness.results.signals import CHOICE_LOGLIK_FIELD, CHOICE_LOGLIK_NORM_FIELD, CONFIDENCE_FIELD
from harness.secrets import clip

DATA_DIR_ENV = "TIERBENCH_DATA_DIR"
_COST_FIELDS = ("latency_s", "prompt_tokens", "output_tokens", "reasoning_tokens")  # per sample, from ItemCost


@dataclass(frozen=True)
class TaskInfo:
    """One line of ``tierbench tasks list``."""

    name: str
    kind: str
    metrics: list[str]
    items: int | None
    description: str
    output_type: str


def resolve_data_dir(flag: Path | None) -> Path | None:
    """--data-dir, else $TIERBENCH_DATA_DIR, else None (the Hugging Face Hub)."""
    value = flag if flag is not None else (Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else None)
    if value is None:
        return None
    if not value.is_dir():
        raise UserError(f"--data-dir: not a directory: {value} (or fix {DATA_DIR_ENV})")
    return value.resolve()


def list_tasks(data_dir: Path | None = None) -> list[TaskInfo]:
    """Every built-in and benchmark task; item counts where the data is at hand."""
    out = []
    for path in discover().values():  # one scan of the task folders
        task = shipped_taskdef(path)
        items: int | None = None
        if task.data is not None or data_dir is not None:
            with contextlib.suppress(UserError):  # the data is not at hand: the count stays unknown
                items = len(read_docs(task, data_dir))
        out.append(TaskInfo(task.name, task.kind, task.metrics, items, task.about, task.output_type))
    return out


def build_task(task: TaskDef, docs: list[dict[str, Any]], seed: int) -> Any:
    """An lm-eval ConfigurableTask over in-memory documents."""
    import datasets
    from lm_eval.api.task import ConfigurableTask

    dataset = datasets.Dataset.from_list(docs)
    config = {k: v for k, v in task.config.items() if k not in ("training_split", "validation_split")}
    config.update(custom_dataset=lambda **_: datasets.DatasetDict({"test": dataset}), test_split="test")
    config["dataset_path"] = f"tierbench/{task.name}"
    if int(config.get("num_fewshot", 0) or 0) > 0:
        config["fewshot_split"] = "test"  # lm-eval never shows an item as its own example
    config.setdefault("metadata", {"version": 1.0})
    built = ConfigurableTask(config=config)
    built.set_fewshot_seed(seed)
    return built


def run_tasks(
    backend: Backend,
    tasks: list[str],
    *,
    limit: int | None,
    seed: int,
    data_dir: Path | None,
    sink: EvalSink,
    self_check: Collection[str] = (),
    concurrency: int | None = None,
) -> PacingStats:
    """Evaluate ``tasks`` on a loaded backend; samples and scores go to ``sink``.

    ``self_check`` tasks also ask the model whether each answer is correct (a separately costed request).
    A concurrent backend gets up to ``concurrency`` requests at once (``harness.evaluation.pacing``).
    """
    from harness.evaluation.lm_adapter import TierbenchLM

    defs = [get_taskdef(name) for name in tasks]  # every name and file checked before any work
    if data_dir is not None:  # a local data directory means no network: keep datasets/hub from trying
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    pacing = AdaptiveLimit(eval_concurrency(backend, concurrency))  # one for the cell: what it learns carries over
    lm = TierbenchLM(backend, sink, seed, pacing)
    refusals = {task.name: _refusal(backend, task) for task in defs}
    pooled: dict[str, tuple[Any, dict[str, Any]] | str] = {}
    runnable = [task for task in defs if refusals[task.name] is None]
    if pacing.ceiling > 1 and len(runnable) > 1:
        # one lm-eval call for all tasks, so their requests share the pool and no task's last wave runs half
        # empty; if it fails, the tasks run one by one below (answers so far are cached) to name the broken one
        pooled = _evaluate_tasks(lm, runnable, data_dir, limit, seed)
    for task in defs:
        outcome: tuple[Any, dict[str, Any]] | str | None = refusals[task.name]
        status = "unsupported"
        if not outcome:
            outcome, status = pooled.get(task.name), "failed"
            if not isinstance(outcome, tuple):
                outcome = _evaluate_tasks(lm, [task], data_dir, limit, seed)[task.name]
        if isinstance(outcome, str):  # one refused or broken task is reported, the others still run
            for metric in task.metrics:
                sink.score(_row(task.name, metric, None, status, outcome))
            continue
        built, results = outcome
        _emit(task, results, lm, sink, seed, built, task.name in self_check)
    return pacing.stats()


def _refusal(backend: Backend, task: TaskDef) -> str | None:
    """Why ``backend`` cannot run ``task`` (None: it can)."""
    if task.needs_loglikelihood and not backend.capabilities.loglikelihood:
        return f"{backend.name} gives no log-probabilities; {task.output_type} tasks need them"
    if task.config.get("process_results") is scorers.code_tests:
        # its scorer executes model-written code: refuse before generating, no silent weaker containment
        return sandbox.unavailable()
    return None


def _evaluate_tasks(
    lm: Any, tasks: list[TaskDef], data_dir: Path | None, limit: int | None, seed: int
) -> dict[str, tuple[Any, dict[str, Any]] | str]:
    """Per task name: (the built lm-eval task, lm-eval's results for all ``tasks`` evaluated in one call),
    or why it failed. A failure of the one call is every task's (the caller then tries them alone)."""
    from lm_eval.evaluator import evaluate

    out: dict[str, tuple[Any, dict[str, Any]] | str] = {}
    built: dict[str, Any] = {}
    for task in tasks:
        docs = read_docs(task, data_dir)
        random.seed(seed)
        np.random.seed(seed)
        try:
            built[task.name] = build_task(task, docs, seed)
        except UserError:
            raise
        except Exception as exc:
            out[task.name] = _reason(exc)
            continue
        if task.output_type == "multiple_choice":
            lm.doc_to_choice[task.name] = built[task.name].doc_to_choice
    if not built:
        return out
    try:
        results = evaluate(
            lm=lm, task_dict=built, limit=limit, bootstrap_iters=0, log_samples=True, verbosity="WARNING"
        )
    except UserError:
        raise
    except Exception as exc:
        return {**out, **dict.fromkeys(built, _reason(exc))}
    assert results is not None
    return {**out, **{name: (b, dict(results)) for name, b in built.items()}}


def _reason(exc: Exception) -> str:
    """A failed task's reason: one clipped line, never a traceback in the scores table."""
    return clip(f"{type(exc).__name__}: {exc}".splitlines()[0], 300)


def _row(
    task: str, metric: str, est: Estimate | None, status: str, reason: str = "", value: float | None = None
) -> dict[str, Any]:
    """One score row; ``value`` (lm-eval's own aggregate) overrides the estimate's."""
    figures: dict[str, Any] = {"value": None, "stderr": None, "ci_low": None, "ci_high": None, "n": 0}
    if est is not None:
        figures = {name: getattr(est, name) for name in figures}
    if value is not None:
        figures["value"] = value
    return {"task": task, "metric": metric, **figures, "status": status, "reason": reason}


def _evidence(
    task: TaskDef, built: Any, lm: Any, self_check: bool, record: dict[str, Any], cost: Any, chosen: Any
) -> dict[str, Any]:
    """choice_loglik(_norm) or none, ``confidence``, a cascade's trace, and the self-check's cost.
    ``built`` (the lm-eval task) gives acc_norm's choice lengths; ``lm`` (TierbenchLM) the per-item costs."""
    out: dict[str, Any] = {}
    confidence: dict[str, float | None]
    answer = ""
    if task.output_type == "multiple_choice":
        choices = [str(c) for c in built.doc_to_choice(record["doc"])]
        logliks = [float(r[0]) for r in record.get("filtered_resps") or []][: len(choices)]
        lengths = [len(c) for c in choices][: len(logliks)]
        out[CHOICE_LOGLIK_FIELD] = logliks
        out[CHOICE_LOGLIK_NORM_FIELD] = normalised_logliks(logliks, lengths)
        confidence = mc_confidence(logliks, lengths)
        if isinstance(chosen, int) and 0 <= chosen < len(choices):
            answer = _argument(record, chosen, 1)
    elif task.output_type == "generate_until":
        confidence = gen_confidence(cost.token_logprobs if cost else None)
        resps = record.get("resps")
        answer = str(resps[0][0]) if isinstance(resps, list) and resps and resps[0] else ""
    else:
        confidence = {}
    if self_check:
        check = lm.self_check(task.name, _argument(record), answer)
        confidence["self_check"] = check.pop("self_check")
        out.update(check)
    out[CONFIDENCE_FIELD] = confidence
    if cost is not None and cost.trace:
        out.update(cost.trace)
    return out


def _emit(
    task: TaskDef, results: dict[str, Any], lm: Any, sink: EvalSink, seed: int, built: Any, self_check: bool
) -> None:
    from lm_eval.api.registry import get_aggregation

    samples = results["samples"][task.name]
    reported = results["results"][task.name]
    primary = task.metrics[0]
    by_filter: dict[str, list[dict[str, Any]]] = {}
    for record in samples:
        by_filter.setdefault(str(record.get("filter", "none")), []).append(record)
    for filter_name, records in by_filter.items():
        records.sort(key=lambda r: int(r["doc_id"]))
        for record in records:
            cost = lm.costs.get((task.name, int(record["doc_id"])))
            value = record.get(primary)
            score = float(value) if isinstance(value, int | float) else None
            response = record.get("filtered_resps")
            if task.output_type == "multiple_choice" and isinstance(response, list) and response:
                response = int(np.argmax([float(r[0]) for r in response]))  # the chosen option
            elif isinstance(response, list) and len(response) == 1:
                response = response[0]
            sink.sample(
                {
                    "task": task.name,
                    "doc_id": int(record["doc_id"]),
                    "filter": filter_name,
                    "prompt": _argument(record),
                    "response": _plain(response),
                    "target": _plain(record.get("target")),
                    "correct": bool(score) if score is not None and score in (0.0, 1.0) else None,
                    "score": score,
                    **{f: getattr(cost, f) if cost else None for f in _COST_FIELDS},
                    "truncated_reasoning": bool(cost and cost.truncated_reasoning),
                    **_evidence(task, built, lm, self_check, record, cost, response),
                }
            )
        for spec in task.config["metric_list"]:
            metric = str(spec["metric"])
            name = recorded_metric_name(metric, filter_name)
            values = [r[metric] for r in records if metric in r]
            aggregation = spec.get("aggregation", "mean")
            if aggregation == "mean":
                est = mean_estimate([float(v) for v in values])
            else:
                est = bootstrap_estimate(values, get_aggregation(aggregation), seed)
            value = reported.get(f"{metric},{filter_name}")
            sink.score(_row(task.name, name, est, "ok", value=float(value) if isinstance(value, int | float) else None))


def _argument(record: dict[str, Any], index: int = 0, position: int = 0) -> str:
    """Argument ``position`` of a logged sample's ``index``-th request (index 0, position 0: its context),
    whatever layout lm-eval logged it in."""
    args = record.get("arguments")
    if isinstance(args, dict):  # lm-eval 0.4 logs {"gen_args_0": {"arg_0": context, ...}, ...}
        args = list(args.values())
    if not isinstance(args, list | tuple) or not 0 <= index < len(args):
        return ""
    entry = args[index]
    if isinstance(entry, dict):
        return str(entry.get(f"arg_{position}", ""))
    if isinstance(entry, list | tuple):
        return str(entry[position]) if position < len(entry) else ""
    return str(entry) if position == 0 else ""


def _plain(value: Any) -> Any:
    """JSON-able: numpy scalars and nested tuples to plain Python."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    return value
