"""Catalog variants (docs/variants.md): a ``variants:`` matrix expands into ordinary models named
``base@value``, through the same expansion as a quantization ladder's rungs; a base name selects its
variants; cascades chain variants; a run gets a cell per variant and the report a variants view.

The run test drives the real CLI pipeline (``harness.run``) against the fault server's ``answer`` model,
which ignores ``reasoning_effort``: every variant answers alike, so the cheaper base model matches the
costlier one and the report's sentence must say so, with the price ratio as the cost ratio.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from run_tables import assert_ran
from servers.fault_server import FaultState, fault_server

import harness
from harness.cascade.chain import parse_chain, resolve_chain
from harness.catalog import load_catalog
from harness.config.models import Catalog
from harness.errors import ConfigError
from harness.ladder.expand import expand_catalog
from harness.report.cellview import CellView, Estimate
from harness.report.metrics import ACCURACY, COST
from harness.report.variants import VariantPoint, matching_finding
from harness.runner.planner import select_models

URL = "http://127.0.0.1:8765/v1"


def _write(tmp_path: Path, models: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(json.dumps({"models": models, **extra}))
    return path


def _openai(name: str, tier: str, variants: dict[str, list[Any]], url: str = URL, **fields: Any) -> dict[str, Any]:
    params = {"model": "answer", "base_url": url, "api": "completions", "max_retries": 0}
    return {"name": name, "tier": tier, "backend": "openai", "params": params, "variants": variants, **fields}


def test_a_matrix_expands_into_named_labelled_models(tmp_path: Path) -> None:
    both = {"reasoning_effort": ["minimal", "high"], "verbosity": ["low", "high"]}
    catalog = load_catalog(
        _write(tmp_path, [_openai("mini", "mini", both), _openai("one", "nano", {"max_concurrency": [1, 2]})])
    )
    names = [m.name for m in catalog.models if m.labels.get("base_model") in ("mini", "one")]
    assert names == [
        "mini@reasoning_effort=minimal+verbosity=low",
        "mini@reasoning_effort=minimal+verbosity=high",
        "mini@reasoning_effort=high+verbosity=low",
        "mini@reasoning_effort=high+verbosity=high",
        "one@max_concurrency=1",  # a number alone would not say what varies
        "one@max_concurrency=2",
    ]
    spec = catalog.get("mini@reasoning_effort=high+verbosity=low")
    assert spec is not None and catalog.get("mini") is None  # the base is its variants now
    assert spec.params["reasoning_effort"] == "high" and spec.params["verbosity"] == "low"
    assert spec.params["model"] == "answer" and spec.tier == "mini" and not spec.variants
    assert spec.labels == {
        "base_model": "mini",
        "variant": "reasoning_effort=high, verbosity=low",
        "reasoning_effort": "high",
        "verbosity": "low",
    }
    one = catalog.get("one@max_concurrency=2")
    assert one is not None and one.params["max_concurrency"] == 2


def test_the_base_name_selects_every_variant_and_a_full_name_one(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, [_openai("mini", "mini", {"reasoning_effort": ["low", "high"]})]))
    assert [m.name for m in select_models(catalog, ["mini"])] == ["mini@low", "mini@high"]
    assert [m.name for m in select_models(catalog, ["mini@high", "mini"])] == ["mini@high", "mini@low"]


def test_ladder_rungs_are_variants_of_the_ladder(tmp_path: Path) -> None:
    ladder = {"name": "lad", "tier": "nano", "source": {"model_path": "/nowhere.gguf"}, "types": ["Q8_0", "Q4_K_M"]}
    catalog = expand_catalog(Catalog.model_validate({"models": [_m()], "ladders": [ladder]}), wanted=[])
    rungs = [m for m in catalog.models if m.labels.get("base_model") == "lad"]
    assert [r.name for r in rungs] == ["lad-q8_0", "lad-q4_k_m"]
    assert (
        catalog.select("lad") == []
    )  # a ladder's name only prefixes its rungs' names (the default has a mini of each)
    assert [(r.labels["base_model"], r.labels["variant"], r.labels["ladder"]) for r in rungs] == [
        ("lad", "Q8_0", "lad"),
        ("lad", "Q4_K_M", "lad"),
    ]
    assert rungs[0].params == {"model_path": "/nowhere.gguf"} and rungs[0].backend == "llamacpp"


def _m() -> dict[str, Any]:
    return {"name": "plain", "tier": "nano", "backend": "llamacpp", "params": {"model_path": "/a.gguf"}}


def test_a_cascade_chains_variants_by_their_full_names(tmp_path: Path) -> None:
    effort = {"reasoning_effort": ["minimal", "medium"]}
    cascade = {
        "name": "casc",
        "tier": "hybrid",
        "backend": "cascade",
        "params": {"chain": ["nano@minimal", "full@medium"], "signal": "gen_logprob_mean", "threshold": -0.5},
    }
    catalog = load_catalog(
        _write(tmp_path, [_openai("nano", "nano", effort), _openai("full", "full", effort), cascade])
    )
    spec = catalog.get("casc")
    assert spec is not None
    tiers = spec.params["tiers"]
    assert [(t["name"], t["params"]["reasoning_effort"]) for t in tiers] == [
        ("nano@minimal", "minimal"),
        ("full@medium", "medium"),
    ]
    assert catalog.get("nano-mini") is None  # the default cascade's nano is variants now: left out, not an error

    cascade["params"]["chain"] = ["nano", "full@medium"]
    with pytest.raises(ConfigError, match=r"params.chain names 'nano', which has variants; name one: nano@minimal"):
        load_catalog(_write(tmp_path, [_openai("nano", "nano", effort), _openai("full", "full", effort), cascade]))


def test_the_replayed_chain_reads_a_variant_name_before_a_profile() -> None:
    cells = pd.DataFrame(
        [
            {"cell_id": f"{m}@host", "model": m, "tier": t, "backend": "openai", "profile": "host", "status": "ok"}
            for m, t in (("nano@minimal", "nano"), ("full@medium", "full"))
        ]
    )
    steps = parse_chain("nano@minimal,full@medium@host")
    assert steps == [("nano", "minimal"), ("full@medium", "host")]
    assert [s.model for s in resolve_chain(steps, cells)] == ["nano@minimal", "full@medium"]


def _point(model: str, base: str, accuracy: tuple[float, float, float], cost: float) -> VariantPoint:
    metrics = {ACCURACY.key: Estimate(*accuracy), COST.key: Estimate(cost)}
    cell = CellView(model, "mini", "openai", "host", "ok", "", "", "none", metrics)
    return VariantPoint(cell, base, model.partition("@")[2], False)


def test_the_finding_names_the_cheapest_match_and_says_nothing_without_one() -> None:
    full = _point("full@minimal", "full", (0.80, 0.70, 0.90), 10.0)
    mini_high = _point("mini@high", "mini", (0.75, 0.65, 0.85), 3.1)
    mini_low = _point("mini@low", "mini", (0.50, 0.40, 0.60), 1.0)
    finding = matching_finding([full, mini_high, mini_low])
    assert finding.startswith("mini@high matches full@minimal within its 95% interval")
    assert "at 31% of its cost" in finding
    assert matching_finding([full, mini_low]) == ""  # 50% is below full's interval (70%–90%)
    assert matching_finding([mini_high, mini_low]) == ""  # variants of one base model are not set against each other


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[harness.RunResult, FaultState]]:
    """A cheap and a dear base model, two efforts each, on the fault server: a scenario and 6 arithmetic items."""
    root = tmp_path_factory.mktemp("variants")
    with fault_server() as (url, state):
        effort = {"reasoning_effort": ["minimal", "high"]}
        cheap = _openai("small", "nano", effort, url, prices={"input_per_mtok": 0.5, "output_per_mtok": 2.0})
        dear = _openai("big", "full", effort, url, prices={"input_per_mtok": 5.0, "output_per_mtok": 20.0})
        catalog = _write(root, [cheap, dear])
        scenario = {"name": "short", "prompt_tokens": [8], "output_tokens": [4], "requests": 2, "warmup": 1}
        suite = root / "suite.yaml"
        suite.write_text(json.dumps({"name": "var", "scenarios": [scenario], "tasks": ["arithmetic"], "limit": 6}))
        yield harness.run(suite=str(suite), catalog=str(catalog), models=["small", "big"], out=root / "run"), state


def test_a_run_has_one_cell_per_variant_and_sends_each_its_setting(
    variant_run: tuple[harness.RunResult, FaultState],
) -> None:
    result, state = variant_run
    assert_ran(result)
    cells = result.cells.to_pandas().set_index("model")
    assert sorted(cells.index) == ["big@high", "big@minimal", "small@high", "small@minimal"]
    assert cells.loc["big@high", "base_model"] == "big" and cells.loc["big@high", "variant"] == "reasoning_effort=high"
    assert set(result.scores.to_pandas()["model"]) == set(cells.index)
    sent = {(r["body"].get("reasoning_effort"), r["body"]["max_tokens"] > 0) for r in state.requests if r.get("body")}
    assert {effort for effort, _ in sent} == {"minimal", "high"}


def test_the_report_has_the_variants_chart_table_and_finding(variant_run: tuple[harness.RunResult, FaultState]) -> None:
    result, _ = variant_run
    run_dir = assert_ran(result)
    html = (run_dir / "report.html").read_text()
    markdown = (run_dir / "report.md").read_text()
    assert 'id="chart-variants-host"' in html and "<svg" in html.split('id="chart-variants-host"')[1][:400]
    # every variant answers alike, so the cheap base matches the dear one at the price ratio (10%)
    assert "small@minimal matches big@" in html and "at 10% of its cost per 1k requests" in html
    assert "### Variants on host" in markdown and "small@minimal matches big@" in markdown
    assert "| small@high | reasoning_effort=high | nano |" in markdown


def test_the_example_catalog_puts_three_tiers_at_four_efforts() -> None:
    catalog = load_catalog(Path(__file__).resolve().parents[1] / "examples" / "reasoning-effort.yaml")
    efforts = ["minimal", "low", "medium", "high"]
    for base in ("nano", "mini", "full"):
        variants = catalog.select(base)
        assert [m.name for m in variants] == [f"{base}@{e}" for e in efforts]
        assert [m.params["reasoning_effort"] for m in variants] == efforts
        assert {m.params["base_url"] for m in variants} == {URL}
