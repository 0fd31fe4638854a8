"""run_tasks with a scripted backend: unsupported tasks, resume, bad task files, scorers, statistics."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.errors import ConfigError, UserError
from harness.evaluation import MemorySink, list_tasks, resolve_data_dir, run_tasks
from harness.evaluation.scorers import constraints, json_fields
from harness.evaluation.stats import bootstrap_estimate, mean_estimate


class Scripted:
    """A backend whose answers are a function of the prompt; counts the requests it serves."""

    def __init__(self, answer: str, loglikelihood: bool) -> None:
        self.name = "scripted"
        self.capabilities = Capabilities(loglikelihood=loglikelihood, chat=False)
        self.answer = answer
        self.calls = 0

    def check(self) -> str | None:
        return None

    def load(self) -> None:
        return None

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        self.calls += 1
        usage.prompt_tokens = len(request.prompt.split())
        usage.output_tokens = 1
        yield Chunk(self.answer, 1)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        self.calls += len(requests)
        return [(-float(len(continuation)), False) for _, continuation in requests]  # shortest choice wins

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        return [-1.0 for _ in texts]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        return "x " * n_tokens

    def describe(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


def test_multiple_choice_on_a_backend_without_logprobs_is_unsupported_not_zero(shared_benchmarks: Path) -> None:
    sink = MemorySink()
    backend = Scripted(" Paris", loglikelihood=False)
    run_tasks(backend, ["piqa", "factual_qa"], limit=5, seed=0, data_dir=shared_benchmarks, sink=sink)  # type: ignore[arg-type]
    piqa = [r for r in sink.scores if r["task"] == "piqa"]
    assert {r["metric"] for r in piqa} == {"acc", "acc_norm"}
    assert all(r["status"] == "unsupported" and r["value"] is None and r["reason"] for r in piqa)
    qa = next(r for r in sink.scores if r["task"] == "factual_qa")
    assert qa["status"] == "ok" and qa["n"] == 5 and qa["value"] is not None
    samples = [s for s in sink.samples if s["task"] == "factual_qa"]
    assert len(samples) == 5 and all(s["response"] == "Paris" and s["latency_s"] is not None for s in samples)


def test_multiple_choice_scores_with_stderr_and_resumes_from_the_cache(shared_benchmarks: Path) -> None:
    sink = MemorySink()
    backend = Scripted("", loglikelihood=True)
    run_tasks(backend, ["arc_easy"], limit=20, seed=0, data_dir=shared_benchmarks, sink=sink)  # type: ignore[arg-type]
    first = backend.calls
    assert first > 20
    acc = next(r for r in sink.scores if r["metric"] == "acc")
    assert acc["n"] == 20 and acc["ci_low"] <= acc["value"] <= acc["ci_high"]
    resumed = MemorySink(responses=dict(sink.responses))
    run_tasks(backend, ["arc_easy"], limit=20, seed=0, data_dir=shared_benchmarks, sink=resumed)  # type: ignore[arg-type]
    assert backend.calls == first  # every request came from the cache
    assert resumed.value("arc_easy", "acc") == sink.value("arc_easy", "acc")


def test_unknown_task_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown task 'piqaa'"):
        run_tasks(Scripted("", True), ["piqaa"], limit=1, seed=0, data_dir=None, sink=MemorySink())  # type: ignore[arg-type]


GOOD = """task: mine
data: items.jsonl
output_type: generate_until
doc_to_text: "Q: {{q}}"
doc_to_target: "{{a}}"
metric_list:
  - metric: exact_match
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("data: items.jsonl", "data: missing.jsonl"), "field 'data': file not found"),
        (("doc_to_text:", "doc_to_txet:"), "unknown field 'doc_to_txet'"),
        (("metric: exact_match", "metric: exact_mach"), "field 'metric_list[0].metric': unknown metric 'exact_mach'"),
        (("output_type: generate_until", "output_type: generate"), "field 'output_type'"),
        (('doc_to_text: "Q: {{q}}"\n', ""), "field 'doc_to_text' is missing"),
    ],
)
def test_bad_task_files_get_one_line_naming_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    (tmp_path / "items.jsonl").write_text('{"q": "1+1", "a": "2"}\n')
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        run_tasks(Scripted("2", False), [str(path)], limit=1, seed=0, data_dir=None, sink=MemorySink())  # type: ignore[arg-type]
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_custom_task_file_runs(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text('{"q": "1+1", "a": "2"}\n{"q": "2+2", "a": "4"}\n')
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    sink = MemorySink()
    run_tasks(Scripted("2", False), [str(path)], limit=None, seed=0, data_dir=None, sink=sink)  # type: ignore[arg-type]
    assert sink.value("mine", "exact_match") == 0.5


def test_missing_data_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--data-dir"):
        resolve_data_dir(tmp_path / "nope")
    with pytest.raises(UserError, match="piqa"):
        run_tasks(Scripted("", True), ["piqa"], limit=1, seed=0, data_dir=tmp_path, sink=MemorySink())  # type: ignore[arg-type]


def test_task_list_has_every_task_with_metric_and_count(shared_benchmarks: Path) -> None:
    infos = {info.name: info for info in list_tasks(shared_benchmarks)}
    for name in ("piqa", "arc_easy", "arc_challenge", "hellaswag", "winogrande", "mmlu", "gsm8k", "truthfulqa"):
        assert infos[name].kind == "benchmark" and infos[name].items
    assert infos["piqa"].items == 1838 and infos["piqa"].metrics == ["acc", "acc_norm"]
    assert infos["factual_qa"].kind == "builtin" and infos["factual_qa"].items


def test_scorers_turn_broken_answers_into_wrong_answers() -> None:
    doc = {"fields": {"name": "Ana", "age": 30, "city": "Lyon"}}
    assert json_fields(doc, ['{"name": "Ana", "age": 30, "city": "Lyon"}'])["exact"] == 1.0
    assert json_fields(doc, [' "name": "Ana", "age": "30", "city": "Paris"}'])["field_acc"] == pytest.approx(2 / 3)
    assert json_fields(doc, ["{not json"]) == {"field_acc": 0.0, "json_valid": 0.0, "exact": 0.0}
    assert json_fields({"fields": None}, ['{"a": 1}'])["field_acc"] == 0.0  # a scorer crash scores 0
    assert constraints({"check": {"kind": "word_count", "n": 3}}, ["one two three"]) == {"follow": 1.0}
    assert constraints({"check": {"kind": "nonsense"}}, ["x"]) == {"follow": 0.0}


def test_statistics() -> None:
    est = mean_estimate([1.0] * 30 + [0.0] * 70)
    assert est.value == pytest.approx(0.3) and est.stderr == pytest.approx(0.0460566, rel=1e-4)
    assert (
        est.method == "wilson"
        and est.ci_low == pytest.approx(0.2189, abs=1e-3)
        and est.ci_high == pytest.approx(0.3958, abs=1e-3)
    )
    perfect = mean_estimate([1.0] * 10)
    assert perfect.ci_high == 1.0 and perfect.ci_low < 1.0
    cont = mean_estimate([0.2, 0.4, 0.9, 1.0])
    assert cont.method == "t" and 0.0 <= cont.ci_low < cont.value < cont.ci_high <= 1.0
    boot = bootstrap_estimate(list(range(50)), lambda xs: float(max(xs)), seed=3)
    assert boot.method == "bootstrap" and boot.ci_low is not None and boot.ci_low <= boot.value
    assert bootstrap_estimate(list(range(50)), lambda xs: float(max(xs)), seed=3) == boot  # seeded


def test_score_intervals_from_scipy_match_their_closed_forms() -> None:
    """The Wilson and t intervals come from scipy.stats: the same figures as the textbook formulas."""
    z = 1.959963984540054  # the two-sided 95% normal quantile
    for n in (1, 2, 7, 20, 100):
        for k in range(n + 1):
            p, denom = k / n, 1 + z * z / n
            centre = (p + z * z / (2 * n)) / denom
            half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
            est = mean_estimate([1.0] * k + [0.0] * (n - k))
            assert est.method == "wilson"
            assert est.ci_low == pytest.approx(max(centre - half, 0.0), abs=1e-12), (k, n)
            assert est.ci_high == pytest.approx(min(centre + half, 1.0), abs=1e-12), (k, n)
    est = mean_estimate([0.5, 2.0, 3.5, 1.25, 4.0])
    assert est.method == "t" and est.stderr is not None
    half = 2.7764451051977987 * est.stderr  # t(0.975, df=4) x sample sd / sqrt(n)
    assert est.ci_low == pytest.approx(2.25 - half) and est.ci_high == pytest.approx(2.25 + half)
