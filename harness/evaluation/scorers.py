"""Per-item scorers for built-in tasks (lm-eval ``process_results`` functions).

A model answer is data: it is parsed (JSON), compared, or executed in ``harness.sandbox`` —
never evaluated in this process. An answer that breaks a scorer scores as wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from harness.evaluation.code_checks import compile_test, passes
from harness.sandbox import Limits, SandboxUnavailable, run_python

Scorer = Callable[[dict[str, Any], list[str]], dict[str, float]]


def _safe(zero: dict[str, float]) -> Callable[[Scorer], Scorer]:
    """Any exception while scoring an answer gives the zero scores instead of aborting the run,
    except a missing sandbox: that is no verdict on the answer, so it stops the task with its reason."""

    def wrap(fn: Scorer) -> Scorer:
        @wraps(fn)
        def inner(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
            try:
                return fn(doc, results)
            except SandboxUnavailable:
                raise
            except Exception:
                return dict(zero)

        return inner

    return wrap


def _first_json_object(text: str) -> dict[str, Any] | None:
    """The first {...} in the answer that parses as a JSON object."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            return float(got) == float(expected)
        except (TypeError, ValueError):
            return False
    return str(got).strip().casefold() == str(expected).strip().casefold()


@_safe({"field_acc": 0.0, "json_valid": 0.0, "exact": 0.0})
def json_fields(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Share of the expected fields present with the right value; valid JSON; all fields right."""
    found = _first_json_object("{" + results[0]) if not results[0].lstrip().startswith("{") else None
    found = found or _first_json_object(results[0])
    if found is None:
        return {"field_acc": 0.0, "json_valid": 0.0, "exact": 0.0}
    fields: dict[str, Any] = doc["fields"]
    right = sum(1 for key, value in fields.items() if key in found and _same(value, found[key]))
    return {"field_acc": right / len(fields), "json_valid": 1.0, "exact": float(right == len(fields))}


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


@_safe({"rouge1": 0.0, "rougeL": 0.0})
def rouge(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """ROUGE-1 and ROUGE-L F1 of the first line of the answer against the reference summary."""
    answer = results[0].strip().split("\n")[0]
    scores = _rouge_scorer().score(doc["summary"], answer)
    return {"rouge1": float(scores["rouge1"].fmeasure), "rougeL": float(scores["rougeL"].fmeasure)}


def _check(check: dict[str, Any], answer: str) -> bool:
    kind = check["kind"]
    letters = [c for c in answer if c.isalpha()]
    words = re.findall(r"[A-Za-z0-9']+", answer)
    if kind == "uppercase":
        return bool(letters) and all(c.isupper() for c in letters)
    if kind == "word_count":
        return len(words) == int(check["n"])
    if kind == "ends_with":
        return bool(words) and words[-1].casefold() == str(check["word"]).casefold()
    if kind == "number_between":
        numbers = re.findall(r"-?\d+", answer)
        return len(numbers) >= 1 and int(check["lo"]) <= int(numbers[0]) <= int(check["hi"])
    raise ValueError(f"unknown check {kind}")


@_safe({"follow": 0.0})
def constraints(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """1 when the first line of the answer satisfies the instruction's checkable constraint."""
    answer = results[0].strip().split("\n")[0]
    return {"follow": float(_check(doc["check"], answer))}


def _solution(doc: dict[str, Any], completion: str) -> str:
    body = completion.split("\ndef ")[0].split("\nif __name__")[0].split("\n```")[0]
    return str(doc["prompt"]) + body + "\n"


@_safe({"pass": 0.0})
def code_tests(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """1 when the completed function passes its hidden tests, judged outside the sandbox
    (``harness.evaluation.code_checks``)."""
    checks, first = [], 0
    for test in doc["tests"]:
        checks.append((compile_test(str(test), first), first))
        first += len(checks[-1][0].probes)
    probes = [probe for check, _ in checks for probe in check.probes]
    outcome = run_python(_solution(doc, results[0]), probes, Limits(wall_s=5.0, cpu_s=3, memory_mb=512))
    return {"pass": float(all(passes(check, start, outcome.values) for check, start in checks))}
