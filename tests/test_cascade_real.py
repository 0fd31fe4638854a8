"""The cascade replay on a real run: nano and mini on piqa and arc_easy, their own confidence.

One module-scoped run (30 items per task) serves every test. One curve point is recomputed
here from samples.jsonl and cells.parquet alone, without the cascade code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_tierbench

pytestmark = pytest.mark.slow
POINTS = 11


@pytest.fixture(scope="module")
def real_run(tiers_run: Path) -> tuple[Path, str]:
    """The shared real run of the tiers, replayed as the cascade nano -> mini on its multiple-choice margin."""
    replayed = run_tierbench(
        "cascade", str(tiers_run), "--chain", "nano,mini", "--signal", "mc_margin", "--thresholds", str(POINTS)
    )
    assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr[-3000:]
    return tiers_run, replayed.stdout


def test_the_curve_and_the_summary_are_printed(real_run: tuple[Path, str]) -> None:
    _, printed = real_run
    for needle in ("never escalate", "always escalate", "oracle", "PGR at the chosen threshold", "APGR", "CPT(50%)"):
        assert needle in printed
    assert "CPT(80%)" in printed and ("keeps" in printed or "No cascade nano → mini" in printed)


def test_the_ends_are_the_tiers_and_the_oracle_is_never_below_them(real_run: tuple[Path, str]) -> None:
    run, _ = real_run
    frame = pd.read_parquet(run / "cascade.parquet")
    cells = pd.read_parquet(run / "cells.parquet").set_index("model")
    cost = cells["cost_per_1k_requests_usd"].astype(float)
    curve = frame[frame["kind"] == "cascade"].reset_index(drop=True)
    tiers = frame[frame["kind"] == "tier"].set_index("label")
    assert curve.loc[0, "accuracy"] == pytest.approx(tiers.loc["nano", "accuracy"])
    assert curve.loc[0, "cost_per_1k_usd"] == pytest.approx(cost["nano"])
    assert curve.iloc[-1]["accuracy"] == pytest.approx(tiers.loc["mini", "accuracy"])
    assert curve.iloc[-1]["cost_per_1k_usd"] == pytest.approx(cost["nano"] + cost["mini"])
    oracle = frame[frame["kind"] == "oracle"].iloc[0]
    assert oracle["accuracy"] >= max(tiers.loc["nano", "accuracy"], tiers.loc["mini", "accuracy"])


def test_one_curve_point_recomputed_from_the_samples(real_run: tuple[Path, str]) -> None:
    run, _ = real_run
    split = json.loads((run / "cascade.json").read_text())["split"]
    samples: dict[tuple[str, str], dict[tuple[str, str, str], dict[str, object]]] = {
        ("nano", "host"): {},
        ("mini", "host"): {},
    }
    for line in (run / "samples.jsonl").read_text().splitlines():
        record = json.loads(line)
        cell = (record["model"], record["profile"])
        if cell in samples:
            samples[cell][(record["task"], str(record["doc_id"]), record["filter"])] = record
    nano, mini = samples[("nano", "host")], samples[("mini", "host")]
    fit = [tuple(key) for key in split["fit"]]
    test = [tuple(key) for key in split["test"]]
    level = 0.5
    threshold = np.quantile([nano[key]["confidence"]["mc_margin"] for key in fit], level)
    escalate = np.array([nano[key]["confidence"]["mc_margin"] < threshold for key in test])
    right = np.where(escalate, [mini[k]["correct"] for k in test], [nano[k]["correct"] for k in test]).astype(bool)
    cells = pd.read_parquet(run / "cells.parquet").set_index("model")["cost_per_1k_requests_usd"].astype(float)
    latency = np.array([nano[k]["latency_s"] for k in test]) + escalate * np.array([mini[k]["latency_s"] for k in test])
    frame = pd.read_parquet(run / "cascade.parquet")
    point = frame[(frame["kind"] == "cascade") & np.isclose(frame["quantile"], level)].iloc[0]
    assert point["accuracy"] == pytest.approx(right.mean())
    assert point["reach_1"] == pytest.approx(escalate.mean())
    assert point["cost_per_1k_usd"] == pytest.approx(cells["nano"] + escalate.mean() * cells["mini"])
    assert point["latency_p95_s"] == pytest.approx(np.percentile(latency, 95))


def test_the_report_shows_the_cascade_chart(real_run: tuple[Path, str]) -> None:
    run, _ = real_run
    assert run_tierbench("report", str(run)).returncode == 0
    html = (run / "report.html").read_text()
    section = html[html.index('<section id="cascade">') :]
    assert '<svg class="chart"' in section[: section.index("</section>")]
    assert "### Cascade" in (run / "report.md").read_text()
