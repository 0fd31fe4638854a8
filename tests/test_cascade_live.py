"""A live cascade cell beside its own tiers, in one real run: what it measured equals the prediction
recomputed here, item by item, from nano's and mini's own samples at the same thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.catalog import default_catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cascade_run(tiers_run: Path) -> Path:
    """The shared real run: nano, mini and the live cascade nano-mini on piqa, arc_easy and arithmetic."""
    return tiers_run


def _samples(run: Path) -> dict[str, dict[tuple[str, int], dict[str, Any]]]:
    by_model: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        by_model.setdefault(record["model"], {})[(record["task"], int(record["doc_id"]))] = record
    return by_model


def test_live_cascade_matches_the_prediction_from_its_tiers_samples(cascade_run: Path) -> None:
    spec = default_catalog().get("nano-mini")
    assert spec is not None
    margin = ("mc_margin", spec.params["threshold"]["mc_margin"])
    rule = {"piqa": margin, "arc_easy": margin}
    rule["arithmetic"] = ("gen_logprob_mean", spec.params["threshold"]["gen_logprob_mean"])
    samples = _samples(cascade_run)
    nano, mini, live = samples["nano"], samples["mini"], samples["nano-mini"]
    assert set(live) == set(nano) == set(mini) and len(live) == 30
    tiers_used = set()
    for item, record in live.items():
        signal, threshold = rule[item[0]]
        value = nano[item]["confidence"][signal]
        expected_tier = "nano" if value is not None and value >= threshold else "mini"
        expected = (nano if expected_tier == "nano" else mini)[item]
        assert record["cascade_tier"] == expected_tier, item
        assert record["correct"] == expected["correct"] and record["response"] == expected["response"], item
        assert record["cascade_confidence"]["nano"][signal] == pytest.approx(value, abs=1e-4)
        tiers_used.add(expected_tier)
    assert tiers_used == {"nano", "mini"}  # the thresholds split these items: both paths were exercised
    predicted = sum(
        (nano if r["cascade_tier"] == "nano" else mini)[i]["correct"] for i, r in live.items() if i[0] == "piqa"
    )
    scores = pd.read_parquet(cascade_run / "scores.parquet")
    acc = scores[(scores["model"] == "nano-mini") & (scores["task"] == "piqa") & (scores["metric"] == "acc")]
    assert float(acc["value"].iloc[0]) == pytest.approx(predicted / 10)


def test_live_cascade_is_a_measured_row_beside_the_single_tiers(cascade_run: Path) -> None:
    cells = pd.read_parquet(cascade_run / "cells.parquet").set_index("model")
    row = cells.loc["nano-mini"]
    assert row["status"] == "ok" and row["tier"] == "hybrid" and row["backend"] == "cascade"
    assert row["peak_rss_mb"] > cells.loc["nano", "peak_rss_mb"]  # both tiers live in the cascade's process
    requests = pd.read_parquet(cascade_run / "requests.parquet")
    measured = requests[(requests["model"] == "nano-mini") & ~requests["warmup"]]
    assert len(measured) == 10 and measured["e2e_s"].notna().all()  # the quick suite's 10 requests
