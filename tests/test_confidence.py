"""Confidence signals (our arithmetic), the cascade's decision rule, and resume of older stored responses.

Scripted tiers stand in for models only where the test checks our own logic (which tier keeps an
item); the real-model checks are in test_confidence_parity.py and test_cascade_live.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import Capabilities, Chunk, GenerationRequest, ItemRequest, StreamUsage
from harness.backends.cascade import CascadeBackend
from harness.backends.confidence import gen_confidence, mc_confidence, yes_probability
from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.config.suite import SuiteSpec
from harness.errors import ConfigError
from harness.evaluation import MemorySink, run_tasks
from harness.meters.latency import timed_generate
from harness.results.signals import SIGNALS


def test_margins_and_generation_signals_follow_their_definitions() -> None:
    logliks, lengths = [-2.0, -1.0, -4.0], [10, 2, 4]
    p = [math.exp(v) / sum(math.exp(w) for w in logliks) for v in logliks]
    norm = [v / n for v, n in zip(logliks, lengths, strict=True)]
    q = [math.exp(v) / sum(math.exp(w) for w in norm) for v in norm]
    got = mc_confidence(logliks, lengths)
    assert got["mc_margin"] == pytest.approx(p[1] - p[0])
    assert got["mc_margin_norm"] == pytest.approx(sorted(q)[-1] - sorted(q)[-2])
    assert mc_confidence([-1.0], [3]) == {"mc_margin": None, "mc_margin_norm": None}
    assert gen_confidence([-0.5, -1.5]) == {"gen_logprob_mean": -1.0, "gen_logprob_min": -1.5}
    assert gen_confidence(None) == gen_confidence([]) == {"gen_logprob_mean": None, "gen_logprob_min": None}
    assert yes_probability(math.log(0.3), math.log(0.1)) == pytest.approx(0.75)
    assert set(got) | set(gen_confidence(None)) | {"self_check"} == set(SIGNALS)


class Tier:
    """A scripted tier: fixed log-likelihoods per choice, or a fixed answer with given token logprobs."""

    def __init__(self, name: str, logliks: list[float], answer: str, logprobs: list[float] | None) -> None:
        self.name = name
        self.capabilities = Capabilities(loglikelihood=True)
        self.logliks, self.answer, self.logprobs = logliks, answer, logprobs
        self.calls = 0

    def check(self) -> str | None:
        return None

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        self.calls += 1
        usage.prompt_tokens, usage.output_tokens, usage.finish_reason = 3, 2, "stop"
        usage.token_logprobs = self.logprobs if request.logprobs else None
        yield Chunk(self.answer[:1], 1)
        yield Chunk(self.answer[1:], 1)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        self.calls += 1
        return [(v, False) for v in self.logliks[: len(requests)]]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def cascade(first: Tier, second: Tier) -> CascadeBackend:
    backend = create_backend(default_catalog().get("nano-mini"))  # type: ignore[arg-type]
    assert isinstance(backend, CascadeBackend)
    backend.tiers = [("nano", first), ("mini", second)]  # type: ignore[list-item]
    return backend


def test_cascade_keeps_an_item_at_the_first_confident_tier_and_escalates_the_rest() -> None:
    # the default nano-mini: multiple choice stays when mc_margin >= 0.3, generation when gen_logprob_mean >= -0.5
    sure, unsure = [-0.1, -5.0], [-1.0, -1.1]
    item = ItemRequest([("Q:", " a"), ("Q:", " bb")], [1, 2])
    (kept,) = cascade(Tier("n", sure, "", None), Tier("m", [-9.0, -0.1], "", None)).loglikelihood_items([item])
    assert kept.trace is not None and kept.trace["cascade_tier"] == "nano" and kept.results[0][0] == -0.1
    assert set(kept.trace["cascade_confidence"]) == {"nano"}
    nano, mini = Tier("n", unsure, "", None), Tier("m", [-9.0, -0.1], "", None)
    (escalated,) = cascade(nano, mini).loglikelihood_items([item])
    assert escalated.trace is not None and escalated.trace["cascade_tier"] == "mini"
    assert escalated.results == [(-9.0, False), (-0.1, False)] and nano.calls == mini.calls == 1
    assert escalated.trace["cascade_confidence"]["nano"] == mc_confidence(unsure, [1, 2])

    request = GenerationRequest(prompt="2+2=", max_tokens=4)
    for logprobs, tier in (([-0.1, -0.2], "nano"), ([-0.1, -2.0], "mini"), (None, "mini")):
        usage = StreamUsage()
        timing = timed_generate(
            cascade(Tier("n", [], "4!", logprobs), Tier("m", [], "5?", [-0.3])), request, usage=usage
        )
        assert usage.extra["trace"]["cascade_tier"] == tier, logprobs
        assert timing.text == ("4!" if tier == "nano" else "5?") and timing.output_tokens == 2
        assert usage.token_logprobs is None  # the caller did not ask for them


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"chain": ["nano", "nope"], "signal": "mc_margin", "threshold": 0.2}, "unknown model 'nope'"),
        ({"chain": ["nano", "mini", "full"], "signal": "mc_margin", "threshold": [0.2]}, "one per non-final tier"),
        ({"chain": ["nano", "mini"], "signal": "mc_margn", "threshold": 0.2}, "unknown confidence signal 'mc_margn'"),
        ({"chain": ["nano"], "signal": "mc_margin", "threshold": 0.2}, "chain"),
        ({"chain": ["nano", "nano-mini"], "signal": "mc_margin", "threshold": 0.2}, "itself a cascade"),
    ],
)
def test_bad_cascade_entries_are_one_line_config_errors(tmp_path: Path, params: dict[str, Any], message: str) -> None:
    import yaml

    from harness.catalog import load_catalog

    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"models": [{"name": "c", "tier": "hybrid", "backend": "cascade", "params": params}]})
    )
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


class Answers:
    """A backend with fixed answers and logprobs, counting its requests (for resume)."""

    name = "answers"
    capabilities = Capabilities(loglikelihood=True, chat=False)

    def __init__(self) -> None:
        self.calls = 0

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        self.calls += 1
        usage.token_logprobs = [-0.25, -0.75] if request.logprobs else None
        yield Chunk(" 4", 2)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        self.calls += len(requests)
        return [(-float(len(c)), False) for _, c in requests]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_samples_carry_confidence_and_older_stored_responses_resume_without_it(shared_benchmarks: Path) -> None:
    backend, sink = Answers(), MemorySink()
    checked = SuiteSpec(name="s", tasks=["x"], self_check=["arithmetic", "gsm8k"]).self_check_tasks(
        ["arithmetic", "arc_easy"]
    )
    assert checked == ["arithmetic"]
    run_tasks(
        backend, ["arithmetic", "arc_easy"], limit=3, seed=0, data_dir=shared_benchmarks, sink=sink, self_check=checked
    )  # type: ignore[arg-type]
    gen = [s for s in sink.samples if s["task"] == "arithmetic"]
    yes = 1 / (1 + math.e)  # scripted: log P(" Yes") = -4, log P(" No") = -3
    for s in gen:
        assert s["confidence"] == pytest.approx({"gen_logprob_mean": -0.5, "gen_logprob_min": -0.75, "self_check": yes})
        assert (
            s["self_check_latency_s"] >= 0 and s["self_check_prompt_tokens"] > 0 and s["self_check_output_tokens"] == 0
        )
    mc = [s for s in sink.samples if s["task"] == "arc_easy"]
    assert len(mc) == 3
    for s in mc:  # the scripted log-likelihood is minus the continuation's length: " " + choice
        lengths = [round(-v) - 1 for v in s["choice_loglik"]]
        assert s["choice_loglik_norm"] == pytest.approx(
            [v / n for v, n in zip(s["choice_loglik"], lengths, strict=True)]
        )
        assert s["confidence"] == pytest.approx(mc_confidence(s["choice_loglik"], lengths))  # no self_check asked
    calls = backend.calls
    older = {k: (v["text"] if isinstance(v, dict) and "text" in v else v) for k, v in sink.responses.items()}
    resumed = MemorySink(responses=older)
    run_tasks(backend, ["arithmetic"], limit=3, seed=0, data_dir=None, sink=resumed, self_check=checked)  # type: ignore[arg-type]
    assert backend.calls == calls  # every answer and every self-check came from the store
    assert [s["response"] for s in resumed.samples] == [s["response"] for s in gen]
    for s in resumed.samples:
        assert s["confidence"] == pytest.approx({"gen_logprob_mean": None, "gen_logprob_min": None, "self_check": yes})


def test_a_cascade_decides_per_whole_item_through_lm_eval_and_resumes_its_decisions(shared_benchmarks: Path) -> None:
    nano = Tier("n", [-1.0, -1.05, -1.1, -1.2, -1.3], "", None)  # margins far below 0.3: every item escalates
    mini = Tier("m", [-3.0, -0.1, -4.0, -5.0, -6.0], "", None)
    backend, sink = cascade(nano, mini), MemorySink()
    run_tasks(backend, ["arc_easy"], limit=4, seed=0, data_dir=shared_benchmarks, sink=sink)
    assert len(sink.samples) == 4 and nano.calls == mini.calls == 4  # one call per item and tier, never per chunk
    for s in sink.samples:
        assert s["cascade_tier"] == "mini" and s["response"] == 1
        n = len(s["choice_loglik"])
        assert s["choice_loglik"] == mini.logliks[:n]  # the answering tier's scores
        assert set(s["cascade_confidence"]) == {"nano", "mini"}
    resumed = MemorySink(responses=dict(sink.responses))
    run_tasks(backend, ["arc_easy"], limit=4, seed=0, data_dir=shared_benchmarks, sink=resumed)
    assert nano.calls == mini.calls == 4  # decisions came from the store
    assert [s["cascade_confidence"] for s in resumed.samples] == [s["cascade_confidence"] for s in sink.samples]
