"""Reasoning models measured honestly, through real runs against the fake reasoning endpoint
(tests/servers/reasoning_server.py): hidden and streamed thinking, the Responses API, cached
prompts, the cost split, the first-token wait, and items that ran out of tokens while reasoning."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console
from servers.reasoning_server import EFFORT_TOKENS, ReasoningState, reasoning_server

import harness
from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.openai_compat import OpenAICompatBackend
from harness.backends.registry import create_backend
from harness.cli.summary_table import print_summary
from harness.config.models import ModelSpec
from harness.meters.latency import timed_generate
from harness.report.view import build_view

PRICES = {"input_per_mtok": 1.25, "cached_input_per_mtok": 0.125, "output_per_mtok": 10.0}
THINK_S = 0.001  # per reasoning token: "low" thinks 16-19 tokens, about 20 ms
PREFIX = 32  # the load scenario's shared system prompt: cached from the second request on


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ReasoningState]]:
    with reasoning_server(think_s_per_token=THINK_S, delay_s=0.002) as running:
        yield running


def model(name: str, url: str, api_model: str, **params: Any) -> dict[str, Any]:
    base = {"model": api_model, "base_url": url, "max_retries": 0, "reasoning": True, "logprobs": False}
    return {"name": name, "tier": "full", "backend": "openai", "params": {**base, **params}, "prices": PRICES}


def run(root: Path, models: list[dict[str, Any]], suite: dict[str, Any]) -> harness.RunResult:
    catalog = root / "catalog.yaml"
    catalog.write_text(json.dumps({"models": models}))
    suite_path = root / "suite.yaml"
    suite_path.write_text(json.dumps({"name": "reasoning", **suite}))
    return harness.run(suite=str(suite_path), catalog=catalog, models=[m["name"] for m in models], out=root / "run")


# the thinking sent four ways: in silence (OpenAI), as vLLM's delta.reasoning, as SGLang's and llama.cpp's
# delta.reasoning_content, and on the Responses API both in silence and as reasoning summary deltas
STYLES = {
    "hidden": ("chat", "gpt-fake", False),
    "vllm": ("chat", "qwen-vllm", True),
    "sglang": ("chat", "qwen-sglang", True),
    "responses": ("responses", "gpt-fake-responses", False),
    "responses-streamed": ("responses", "qwen-responses-vllm", True),
}


@pytest.fixture(scope="module")
def perf_run(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, ReasoningState]) -> harness.RunResult:
    url, _ = server
    models = [
        model(name, url, api_model, api=api, reasoning_effort="low", reasoning_budget_tokens=64)
        for name, (api, api_model, _) in STYLES.items()
    ]
    scenario = {"name": "cached", "kind": "concurrency", "concurrency": [1], "prompt_tokens": [16],
                "output_tokens": [4], "requests": 3, "warmup": 1, "prefix_tokens": PREFIX}  # fmt: skip
    result = run(tmp_path_factory.mktemp("perf"), models, {"scenarios": [scenario], "tasks": []})
    requests = result.requests.to_pandas()
    assert set(requests["model"]) == set(STYLES) and not requests["error"].astype(bool).any()
    return result


def measured(result: harness.RunResult, name: str) -> pd.DataFrame:
    requests = result.requests.to_pandas()
    return requests[~requests["warmup"].astype(bool) & (requests["model"] == name)]


@pytest.mark.parametrize("name", list(STYLES))
def test_requests_carry_reasoning_visible_and_cached_tokens_and_the_times_before_the_answer(
    perf_run: harness.RunResult, name: str
) -> None:
    rows = measured(perf_run, name)
    assert len(rows) == 3
    for _, r in rows.iterrows():
        reasoning, visible = int(r["reasoning_tokens"]), int(r["visible_tokens"])
        assert EFFORT_TOKENS["low"] <= reasoning <= EFFORT_TOKENS["low"] + 3 and visible == 3
        assert int(r["output_tokens"]) == reasoning + visible  # the server's completion_tokens, reasoning included
        assert int(r["cached_tokens"]) >= PREFIX and int(r["prompt_tokens"]) > int(r["cached_tokens"])
        assert not r["truncated_reasoning"]
        # TTFT is the first answer token: after the thinking, which comes after the first byte
        assert r["first_byte_s"] < r["ttft_s"] <= r["e2e_s"]
        assert r["ttft_s"] >= reasoning * THINK_S
        # TPOT per visible token; the decode rate counts the reasoning tokens too
        assert r["tpot_s"] == pytest.approx((r["e2e_s"] - r["ttft_s"]) / (visible - 1))
        start = r["first_reasoning_s"] if STYLES[name][2] else 0.0
        assert r["decode_tps"] == pytest.approx((reasoning + visible - 1) / (r["e2e_s"] - start))
        if STYLES[name][2]:
            assert r["first_byte_s"] <= r["first_reasoning_s"] < r["ttft_s"]
            assert r["prefill_tps"] == pytest.approx(r["prompt_tokens"] / r["first_reasoning_s"])
        else:  # hidden thinking: no reasoning time, and TTFT is no prefill
            assert pd.isna(r["first_reasoning_s"]) and pd.isna(r["prefill_tps"])


def backend(url: str, api_model: str = "gpt-fake", **params: Any) -> OpenAICompatBackend:
    spec = ModelSpec(
        name="api",
        tier="full",
        backend="openai",
        params={"model": api_model, "base_url": url, "max_retries": 0, **params},
        prices=PRICES,
    )
    made = create_backend(spec)
    assert isinstance(made, OpenAICompatBackend)
    made.load()
    return made


def generate(made: OpenAICompatBackend, prompt: str, max_tokens: int = 64) -> tuple[Any, StreamUsage]:
    usage = StreamUsage()
    return timed_generate(made, GenerationRequest(prompt=prompt, max_tokens=max_tokens), usage=usage), usage


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_one_requests_cost_is_its_list_price_by_part(server: tuple[str, ReasoningState], api: str) -> None:
    url, _ = server
    made = backend(url, api=api, reasoning_effort="low")
    prompt = f"Please add these numbers for the {api} cost test. Q: 20 + 22\nA:"  # 14 words
    generate(made, prompt)
    timing, usage = generate(made, prompt)  # the same prompt again: every word of it from the cache
    assert (usage.prompt_tokens, usage.cached_tokens) == (14, 14)
    assert usage.output_tokens == usage.reasoning_tokens + 2 and usage.reasoning_tokens >= EFFORT_TOKENS["low"]
    # $1.25 / 1M fresh input, $0.125 / 1M cached input, $10 / 1M output, reasoning billed as output
    by_hand = (0 * 1.25 + 14 * 0.125 + (usage.reasoning_tokens + 2) * 10.0) / 1e6
    assert usage.extra["cost_usd"] == pytest.approx(by_hand)
    assert timing.text == " 42\n" or timing.text == " 43\n"  # the answer alone, never the thinking


def test_the_cost_split_reaches_the_cells_table_and_the_report(perf_run: harness.RunResult) -> None:
    rows = measured(perf_run, "hidden")
    prompt, cached = rows["prompt_tokens"].mean(), rows["cached_tokens"].mean()
    reasoning, visible = rows["reasoning_tokens"].mean(), rows["visible_tokens"].mean()
    expected = {
        "cost_input_per_1k_usd": 1000 * (prompt - cached) * 1.25 / 1e6,
        "cost_cached_per_1k_usd": 1000 * cached * 0.125 / 1e6,
        "cost_visible_per_1k_usd": 1000 * visible * 10.0 / 1e6,
        "cost_reasoning_per_1k_usd": 1000 * reasoning * 10.0 / 1e6,
    }
    cells = perf_run.cells.to_pandas().set_index("model")
    for column, value in expected.items():
        assert cells.loc["hidden", column] == pytest.approx(value), column
    assert cells.loc["hidden", "cost_per_1k_requests_usd"] == pytest.approx(sum(expected.values()))
    assert expected["cost_reasoning_per_1k_usd"] > 5 * expected["cost_visible_per_1k_usd"]
    assert perf_run.report is not None
    shown = f"reasoning ${expected['cost_reasoning_per_1k_usd']:.4g}"
    markdown, page = perf_run.report.markdown.read_text(), perf_run.report.html.read_text()
    assert "cached $" in markdown and "reasoning $" in markdown and "reasoning $" in page, shown


def test_silent_thinking_longer_than_the_stall_timeout_completes_but_a_silence_mid_answer_is_cut() -> None:
    with reasoning_server(think_s_per_token=0.004) as (url, state):  # "high" thinks ~130 tokens: over 0.5 s
        thinker = backend(url, reasoning_effort="high", stall_timeout_s=0.2)  # first-token wait: timeout_s
        timing, usage = generate(thinker, "Q: 1 + 2\nA:", max_tokens=512)
        assert timing.error is None and timing.ttft_s > 0.5 and usage.reasoning_tokens >= EFFORT_TOKENS["high"]
        impatient = backend(url, reasoning_effort="high", stall_timeout_s=0.2, think_timeout_s=0.2)
        timing, _ = generate(impatient, "Q: 1 + 2\nA:", max_tokens=512)
        assert timing.error is not None and "no first token for 0.2s" in timing.error
        state.think_s_per_token, state.mid_pause_s = 0.0, 5.0  # answers at once, then stalls after its first token
        timing, _ = generate(thinker, "Q: 1 + 2\nA:", max_tokens=512)
        assert timing.error is not None and "no data for 0.2s mid-stream (server stalled)" in timing.error
        assert timing.text == "" or timing.text.strip().isdigit()


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, ReasoningState]) -> harness.RunResult:
    """arithmetic on three models: one whose token limit is below its reasoning (the task's 8 tokens, no budget),
    and the same model at minimal and high effort with room to think (high streams its thinking as vLLM does)."""
    url, _ = server
    models = [
        model("short", url, "gpt-short", reasoning_effort="low"),
        model("minimal", url, "gpt-minimal", reasoning_effort="minimal", reasoning_budget_tokens=256),
        model("high", url, "gpt-high-vllm", reasoning_effort="high", reasoning_budget_tokens=256),
    ]
    return run(tmp_path_factory.mktemp("eval"), models, {"scenarios": [], "tasks": ["arithmetic"], "limit": 20})


def test_items_that_ran_out_of_tokens_while_reasoning_are_counted_and_shown(eval_run: harness.RunResult) -> None:
    samples = [json.loads(line) for line in (eval_run.run_dir / "samples.jsonl").read_text().splitlines()]
    cut = {m: sum(s["truncated_reasoning"] for s in samples if s["model"] == m) for m in ("short", "minimal", "high")}
    assert cut == {"short": 20, "minimal": 0, "high": 0}
    # no visible answer: the task's regex filter finds no number in it
    assert all(s["response"] == "[invalid]" and not s["correct"] for s in samples if s["model"] == "short")
    line = "20 of 20 items ran out of tokens while reasoning"
    console = Console(record=True, width=240)
    print_summary(console, build_view(eval_run.run_dir))
    terminal = console.export_text()
    assert line in terminal and "20/20 out of tokens reasoning" in terminal
    assert eval_run.report is not None
    assert line in eval_run.report.markdown.read_text() and line in eval_run.report.html.read_text()
    assert terminal.count("ran out of tokens") == 1  # only the model that did


def test_effort_buys_accuracy_with_reasoning_tokens_and_time_and_the_thinking_is_never_the_answer(
    eval_run: harness.RunResult,
) -> None:
    scores = eval_run.scores.to_pandas().set_index("model")
    assert scores.loc["high", "value"] > scores.loc["minimal", "value"] + 0.2
    samples = pd.read_json(eval_run.run_dir / "samples.jsonl", lines=True).set_index("model")
    assert samples.loc["high", "reasoning_tokens"].min() > 10 * samples.loc["minimal", "reasoning_tokens"].max()
    assert samples.loc["high", "latency_s"].mean() > samples.loc["minimal", "latency_s"].mean()
    assert not samples["response"].astype(str).str.contains("step").any()  # streamed thinking is not scored


@pytest.mark.parametrize(("api", "api_model"), [("chat", "trunc-sglang"), ("responses", "trunc-r")])
def test_a_limit_below_the_reasoning_is_a_truncated_request_not_an_answer(
    server: tuple[str, ReasoningState], api: str, api_model: str
) -> None:
    url, _ = server
    made = backend(url, api_model, api=api, reasoning_effort="low")
    timing, usage = generate(made, "Q: 3 + 4\nA:", max_tokens=8)  # response.incomplete on the Responses API
    assert timing.error is None and timing.truncated_reasoning and timing.finish_reason == "length"
    assert (timing.text, timing.visible_tokens, timing.reasoning_tokens, timing.output_tokens) == ("", 0, 8, 8)
    assert timing.ttft_s is None and timing.e2e_s is not None and timing.e2e_s > 0  # it took time, answered nothing
    assert usage.extra["cost_usd"] == pytest.approx((5 * 1.25 + 8 * 10.0) / 1e6)


def test_the_documented_example_gives_a_row_per_tier_and_effort_with_cached_input_and_the_variants_view(
    tmp_path: Path, server: tuple[str, ReasoningState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/reasoning-effort.yaml with its suite, as docs/variants.md runs it: mini at every effort and
    full at one (the catalog's 12 variants load in test_variants.py), on fewer items."""
    url, _ = server
    monkeypatch.setenv("TIERBENCH_REASONING_BASE_URL", url)
    examples = Path(__file__).resolve().parents[1] / "examples"
    result = harness.run(
        suite=str(examples / "reasoning-effort-suite.yaml"),
        catalog=examples / "reasoning-effort.yaml",
        models=["mini", "full@minimal"],
        limit=10,
        out=tmp_path / "run",
    )
    cells = result.cells.to_pandas()
    efforts = ["minimal", "low", "medium", "high"]
    assert list(cells["model"]) == [f"mini@{effort}" for effort in efforts] + ["full@minimal"]
    assert (cells["status"] == "ok").all()
    assert list(cells["variant"]) == [f"reasoning_effort={effort}" for effort in [*efforts, "minimal"]]
    requests = result.requests.to_pandas()
    measured_requests = requests[~requests["warmup"].astype(bool)]
    assert (measured_requests["cached_tokens"] > 0).all()  # the suite's shared system prompt, from the cache
    assert (cells["cost_cached_per_1k_usd"] > 0).all() and (cells["cost_reasoning_per_1k_usd"] > 0).all()
    by_model = cells.set_index("model")
    assert (
        by_model.loc["mini@high", "cost_per_1k_requests_usd"] > by_model.loc["mini@minimal", "cost_per_1k_requests_usd"]
    )
    markdown = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "### Variants on host" in markdown and " matches " in markdown and "of its cost per 1k requests" in markdown
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert 'aria-label="Variants on host: accuracy vs cost per 1k requests and vs p95 latency"' in html
