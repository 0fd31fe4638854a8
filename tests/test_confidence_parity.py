"""Confidence signals on the real nano model agree with llama-cpp-python's own scoring, computed here.

The reference numbers come from a second llama-cpp-python model with ``logits_all=True`` (its own
logits and its own ``create_completion(logprobs=...)``), never through tierbench's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.confidence import mc_confidence
from harness.backends.registry import check_model, create_backend
from harness.catalog import default_catalog
from harness.evaluation import MemorySink, run_tasks
from harness.meters.latency import timed_generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nano() -> Iterator[Any]:
    spec = default_catalog().get("nano")
    assert spec is not None
    if reason := check_model(spec):
        pytest.skip(reason)
    backend = create_backend(spec)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def reference(nano: Any) -> Iterator[Any]:
    """The same GGUF in a plain llama-cpp-python model that keeps every position's logits."""
    from harness.backends.llamacpp import open_llama

    llm = open_llama(
        nano.model_path(),
        extra_buffers=nano.params.extra_buffers,
        n_ctx=512,
        logits_all=True,
        verbose=False,
        n_threads=2,
    )
    yield llm
    llm.close()


def _reference_loglik(llm: Any, context: str, continuation: str) -> float:
    """log P(continuation | context): whole string tokenized, split at the context's tokens (lm-eval's rule)."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    ctx = llm.tokenize(context.encode(), add_bos=True, special=True)
    whole = llm.tokenize((context + continuation).encode(), add_bos=True, special=True)
    llm.reset()
    llm.eval(whole)
    logits = np.asarray(llm.scores[: len(whole)], dtype=np.float64)
    logprobs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return float(sum(logprobs[pos - 1, whole[pos]] for pos in range(len(ctx), len(whole))))


def test_piqa_choice_logliks_and_margins_match_llama_cpp(nano: Any, reference: Any, shared_benchmarks: Path) -> None:
    sink = MemorySink()
    run_tasks(nano, ["piqa"], limit=2, seed=0, data_dir=shared_benchmarks, sink=sink)
    assert len(sink.samples) == 2
    from harness.evaluation.taskdefs import get_taskdef, read_docs

    docs = read_docs(get_taskdef("piqa"), shared_benchmarks)
    for sample in sink.samples:
        doc = docs[sample["doc_id"]]
        args = [(sample["prompt"], " " + str(doc[key])) for key in ("sol1", "sol2")]
        expected = [_reference_loglik(reference, c, x) for c, x in args]
        assert sample["choice_loglik"] == pytest.approx(expected, abs=2e-3)
        lengths = [len(x) - 1 for _, x in args]
        logliks = np.array(sample["choice_loglik"])
        p = np.exp(logliks - logliks.max()) / np.exp(logliks - logliks.max()).sum()
        assert sample["confidence"]["mc_margin"] == pytest.approx(float(np.sort(p)[-1] - np.sort(p)[-2]))
        assert sample["confidence"] == pytest.approx(mc_confidence(sample["choice_loglik"], lengths))


def test_generated_token_logprobs_match_create_completion(nano: Any, reference: Any) -> None:
    prompt = "The capital of France is"
    usage = StreamUsage()
    timing = timed_generate(nano, GenerationRequest(prompt=prompt, max_tokens=8, logprobs=True), usage=usage)
    assert timing.error is None and usage.token_logprobs is not None
    reference.reset()
    out = reference.create_completion(prompt, max_tokens=8, temperature=0.0, logprobs=1)
    assert out["choices"][0]["text"] == timing.text
    expected = [float(v) for v in out["choices"][0]["logprobs"]["token_logprobs"]]
    assert len(usage.token_logprobs) == len(expected) == timing.output_tokens
    assert float(np.mean(usage.token_logprobs)) == pytest.approx(float(np.mean(expected)), abs=2e-3)
    assert min(usage.token_logprobs) == pytest.approx(min(expected), abs=2e-3)
    plain = StreamUsage()
    timed_generate(nano, GenerationRequest(prompt=prompt, max_tokens=8), usage=plain)
    assert plain.token_logprobs is None  # perf requests never compute them
