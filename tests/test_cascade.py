"""The cascade replay's own logic, on hand-built sample tables (no model runs here).

Routing and cost on a four-item table worked out by hand; the routing literature's figures on
curves with known answers; the sweep's ends, the oracle and random escalation on a synthetic
run; per-profile figures; the recommendation; every bad input as one line and exit code 2; the
report's section; a live cascade cell beside its replay.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cascade_runs import TIERS, make_cascade_run
from click.testing import CliRunner, Result

from harness.cascade import Goal, ReplayConfig, gains, replay_run
from harness.cascade.chain import Step
from harness.cascade.items import ItemTable
from harness.cascade.routing import TierRates, cascade_outcome, oracle_outcome
from harness.cascade.stats import measure
from harness.cli.main import cli

NO_BOOT = np.zeros((0, 4), dtype=int)


def _step(model: str, cost_per_1k: float, seconds: float = 1.0) -> Step:
    return Step(model, "host", f"{model}@host", model, "llamacpp", cost_per_1k / 1000, 1.0, seconds, "estimate")


def _four_items(check_s: float = 0.0) -> ItemTable:
    return ItemTable(
        keys=[("t", str(i), "none") for i in range(4)],
        correct=np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=bool),
        confidence=np.array([[0.9, np.nan], [0.2, np.nan], [0.6, np.nan], [0.4, np.nan]]),
        latency_s=np.array([[0.1, 0.5]] * 4),
        check_latency_s=np.array([[check_s, 0.0]] * 4),
        excluded=Counter(),
    )


def test_routing_on_four_items_by_hand() -> None:
    items, rates = _four_items(), TierRates.of([_step("nano", 1.0), _step("mini", 4.0)])
    figures = measure(cascade_outcome(items, np.array([[0.5]]), rates, paid_check=False), NO_BOOT).point
    # items 1 and 3 (confidence 0.2, 0.4) escalate: answers nano, mini, nano, mini -> right, right, right, wrong
    assert figures["accuracy"][0] == pytest.approx(0.75)
    assert figures["cost_per_1k_usd"][0] == pytest.approx((1 + 5 + 1 + 5) / 4)
    assert figures["reach_1"][0] == pytest.approx(0.5)
    assert figures["latency_p50_s"][0] == pytest.approx(np.percentile([0.1, 0.6, 0.1, 0.6], 50))
    oracle = measure(oracle_outcome(items, rates), NO_BOOT).point
    assert oracle["accuracy"][0] == pytest.approx(0.75)  # item 3: neither tier is right
    assert oracle["reach_1"][0] == pytest.approx(0.5)  # items 1 and 3: nano is wrong


def test_a_paid_self_check_costs_only_where_its_threshold_decides() -> None:
    items, rates = _four_items(check_s=0.2), TierRates.of([_step("nano", 1.0, seconds=0.4), _step("mini", 4.0)])
    thresholds = np.array([[-np.inf], [0.5], [np.inf]])
    figures = measure(cascade_outcome(items, thresholds, rates, paid_check=True), NO_BOOT).point
    assert figures["cost_per_1k_usd"].tolist() == pytest.approx([1.0, 3.0 + 0.2 * 1.0 / 0.4, 5.0])
    assert figures["latency_p50_s"][1] == pytest.approx(np.percentile([0.3, 0.8, 0.3, 0.8], 50))


def test_routing_literature_figures_on_known_curves() -> None:
    share = np.linspace(0, 1, 11)
    line = 0.5 + 0.3 * share  # random routing between a 50% and an 80% tier
    assert gains.apgr(share, line, 0.5, 0.8) == pytest.approx(0.5)
    assert gains.cpt(share, line, 0.5, 0.8, 0.5) == pytest.approx(0.5)
    assert gains.cpt(share, line, 0.5, 0.8, 0.8) == pytest.approx(0.8)
    assert gains.pgr(0.65, 0.5, 0.8) == pytest.approx(0.5)
    perfect = np.where(share > 0, 0.8, 0.5)
    assert gains.cpt(share, perfect, 0.5, 0.8, 0.8) == pytest.approx(0.08)  # interpolated between 0 and 0.1
    assert gains.apgr(share, perfect, 0.5, 0.8) == pytest.approx(0.95)
    assert gains.pgr(0.6, 0.7, 0.7) is None and gains.apgr(share, line, 0.8, 0.5) is None


@pytest.fixture(scope="module")
def three_tier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cascade_run(tmp_path_factory.mktemp("cascade") / "run", n=100)


@pytest.fixture(scope="module")
def replayed(three_tier: Path) -> pd.DataFrame:
    return replay_run(three_tier, ReplayConfig(chain="nano,mini,full", n_boot=300)).frame()


def test_the_sweep_runs_from_the_first_tier_alone_to_every_tier_paid(replayed: pd.DataFrame) -> None:
    curve = replayed[replayed["kind"] == "cascade"].reset_index(drop=True)
    tiers = replayed[replayed["kind"] == "tier"].set_index("label")
    first, last = curve.iloc[0], curve.iloc[-1]
    for name in ("accuracy", "cost_per_1k_usd", "latency_p95_s", "energy_per_request_j"):
        assert first[name] == pytest.approx(tiers.loc["nano", name])
    assert last["accuracy"] == pytest.approx(tiers.loc["full", "accuracy"])
    assert last["cost_per_1k_usd"] == pytest.approx(sum(cost for *_, cost, _, _ in TIERS))
    assert first["threshold"] == "never escalate" and last["threshold"] == "always escalate"
    assert first["reach_1"] == 0 and last["reach_2"] == 1


def test_the_oracle_and_random_escalation_sit_where_they_must(replayed: pd.DataFrame) -> None:
    oracle = replayed[replayed["kind"] == "oracle"].iloc[0]
    assert oracle["accuracy"] >= replayed[replayed["kind"] != "oracle"]["accuracy"].max()
    curve = replayed[replayed["kind"] == "cascade"].reset_index(drop=True)
    random = replayed[replayed["kind"] == "random"].reset_index(drop=True)
    acc = replayed[replayed["kind"] == "tier"].set_index("label")["accuracy"]
    for i in (3, 10, 17):
        r1, r2 = curve.loc[i, "reach_1"], curve.loc[i, "reach_2"]
        expected = (1 - r1) * acc["nano"] + (r1 - r2) * acc["mini"] + r2 * acc["full"]
        assert random.loc[i, "accuracy"] == pytest.approx(expected)
        assert random.loc[i, "cost_per_1k_usd"] == pytest.approx(curve.loc[i, "cost_per_1k_usd"])
    inside = replayed.dropna(subset=["accuracy_low"])
    assert (
        (inside["accuracy_low"] <= inside["accuracy"] + 1e-9) & (inside["accuracy"] <= inside["accuracy_high"] + 1e-9)
    ).all()


def test_thresholds_are_fitted_on_one_half_and_scored_on_the_other(three_tier: Path) -> None:
    result = replay_run(three_tier, ReplayConfig(chain="nano,mini", n_boot=50, seed=7))
    fit, test = set(result.fit_keys), set(result.test_keys)
    assert not fit & test and len(fit | test) == 200
    assert Counter(k[0] for k in fit) == Counter(k[0] for k in test) == {"piqa": 50, "arc_easy": 50}
    other = replay_run(three_tier, ReplayConfig(chain="nano,mini", n_boot=50, seed=8))
    assert set(other.test_keys) != test


def test_each_tier_is_figured_on_its_own_profile(tmp_path: Path) -> None:
    edge = ("nano", "[red]edge", "nano", "llamacpp", 0.25, 1.0, 1.5)
    run = make_cascade_run(tmp_path / "run", n=40, tiers=[TIERS[0], edge, TIERS[1]])
    result = CliRunner().invoke(cli, ["cascade", str(run), "--chain", "nano@[red]edge,mini@host", "--thresholds", "5"])
    assert result.exit_code == 0, result.output
    assert "nano@[red]edge" in result.output  # printed as text, not read as rich markup
    frame = pd.read_parquet(run / "cascade.parquet")
    first = frame[frame["kind"] == "cascade"].iloc[0]
    assert first["cost_per_1k_usd"] == pytest.approx(0.25)
    split = json.loads((run / "cascade.json").read_text())["split"]["test"]
    samples = pd.read_json(run / "samples.jsonl", lines=True)
    on_edge = samples[(samples["profile"] == "[red]edge")].set_index(["task", "doc_id"])["latency_s"]
    assert first["latency_p95_s"] == pytest.approx(np.percentile([on_edge[(t, int(d))] for t, d, _ in split], 95))
    ambiguous = CliRunner().invoke(cli, ["cascade", str(run), "--chain", "nano,mini"])
    assert ambiguous.exit_code == 2 and "ran on several profiles" in ambiguous.stderr


def test_recommendation_when_the_cascade_beats_every_tier_and_when_not(tmp_path: Path) -> None:
    floor = make_cascade_run(tmp_path / "floor", n=150, constraints={"min_accuracy": 0.64, "objective": "cheapest"})
    beats = replay_run(floor, ReplayConfig(chain="nano,mini", n_boot=50)).summary
    assert beats["beats_every_tier"], beats["recommendation"]
    assert beats["recommendation"].startswith("nano → mini at threshold ")
    assert "of mini's accuracy at" in beats["recommendation"] and "p95 latency" in beats["recommendation"]
    plain = replay_run(floor, ReplayConfig(chain="nano,mini", n_boot=50), Goal()).summary
    assert not plain["beats_every_tier"]
    assert plain["recommendation"].endswith("nano alone meets them at lower cost.")


def _fails(result: Result, *needles: str) -> None:
    err = result.stderr.strip()
    assert result.exit_code == 2, (result.output, err, result.exception)
    assert len(err.splitlines()) == 1 and "Traceback" not in result.output + err, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--chain", "nano,gpt"], ("'gpt' is not in this run",)),
        (["--chain", "nano"], ("at least two tiers",)),
        (["--chain", "nano,mini", "--signal", "vibes"], ("--signal 'vibes'", "mc_margin")),
        (["--chain", "nano,mini", "--signal", "self_check"], ("no 'self_check' values", "mc_margin")),
        (["--chain", "nano,mini", "--thresholds", "2"], ("--thresholds 2",)),
        (["--chain", "nano,full"], ("tier full did not run", "OPENAI_API_KEY")),
    ],
    ids=["unknown-tier", "one-tier", "unknown-signal", "absent-signal", "two-points", "tier-skipped"],
)
def test_bad_chains_and_signals_are_one_line_errors(tmp_path: Path, args: list[str], needles: tuple[str, ...]) -> None:
    skipped = {"cell_id": "full@host", "model": "full", "profile": "host", "tier": "full", "backend": "openai"}
    skipped |= {"status": "skipped", "reason": "OPENAI_API_KEY is not set"}
    tiers = TIERS[:2]
    run = make_cascade_run(tmp_path / "run", n=10, tiers=tiers, extra_cells=[skipped])
    _fails(CliRunner().invoke(cli, ["cascade", str(run), *args]), *needles)


def test_an_older_run_without_confidence_is_refused(tmp_path: Path) -> None:
    run = make_cascade_run(tmp_path / "run", n=10, confidence=False)
    _fails(CliRunner().invoke(cli, ["cascade", str(run), "--chain", "nano,mini"]), "carry no confidence", "re-run")


def test_items_only_some_tiers_answered_are_counted_not_hidden(tmp_path: Path) -> None:
    run = make_cascade_run(tmp_path / "run", n=30, missing={"mini": 4})
    result = CliRunner().invoke(cli, ["cascade", str(run), "--chain", "nano,mini", "--thresholds", "5"])
    assert result.exit_code == 0, result.output
    assert "Excluded: 8 item(s) — 8 not answered by mini" in result.output
    assert json.loads((run / "cascade.json").read_text())["items"] == {"fit": 26, "test": 26}


def test_the_report_draws_the_cascade_or_says_why_not(three_tier: Path, tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["report", str(three_tier)]).exit_code == 0
    html = (three_tier / "report.html").read_text()
    section = html[html.index('<section id="cascade">') :]
    assert '<svg class="chart"' in section[: section.index("</section>")]
    assert "### Cascade" in (three_tier / "report.md").read_text()
    old = make_cascade_run(tmp_path / "old", n=10, confidence=False)
    assert CliRunner().invoke(cli, ["report", str(old)]).exit_code == 0
    assert "No cascade replay:" in (old / "report.md").read_text()
    assert "carry no confidence" in (old / "report.html").read_text()


def test_a_live_cascade_cell_is_shown_beside_its_replay(tmp_path: Path) -> None:
    run = make_cascade_run(tmp_path / "run", n=20, tiers=TIERS[:2])
    samples = pd.read_json(run / "samples.jsonl", lines=True)
    nano = samples[samples["model"] == "nano"].set_index(["task", "doc_id"])
    mini = samples[samples["model"] == "mini"].set_index(["task", "doc_id"])
    live = []
    for key, row in nano.iterrows():
        stays = row["confidence"]["mc_margin"] >= 0.5
        answer = row if stays else mini.loc[key]
        # the live cell is right where the replay predicts, except on one item it got wrong on its own
        right = bool(answer["correct"]) and key != ("piqa", 0)
        live.append(
            {"model": "nano-mini", "profile": "host", "task": key[0], "doc_id": int(key[1])}
            | {"correct": right, "latency_s": 0.2, "cascade_tier": "nano" if stays else "mini"}
        )
    cell = {"cell_id": "nano-mini@host", "model": "nano-mini", "profile": "host", "tier": "hybrid"}
    cell |= {"backend": "cascade", "status": "ok", "cost_per_1k_requests_usd": 2.0}
    model = {
        "name": "nano-mini",
        "backend": "cascade",
        "params": {"chain": ["nano", "mini"], "signal": "mc_margin", "threshold": 0.5},
    }
    run = make_cascade_run(
        tmp_path / "run", n=20, tiers=TIERS[:2], extra_cells=[cell], extra_samples=live, extra_models=[model]
    )
    from harness.cascade.live import live_comparisons

    (comparison,) = live_comparisons(run)
    predicted = np.mean(
        [
            bool((nano.loc[k] if nano.loc[k]["confidence"]["mc_margin"] >= 0.5 else mini.loc[k])["correct"])
            for k in nano.index
        ]
    )
    assert comparison.items == 40
    assert comparison.replayed["accuracy"] == pytest.approx(predicted)
    assert comparison.live["accuracy"] == pytest.approx(np.mean([r["correct"] for r in live]))
    assert comparison.live["escalation"] == pytest.approx(comparison.replayed["escalation"])
    assert CliRunner().invoke(cli, ["report", str(run)]).exit_code == 0
    assert 'id="cascade-live-table"' in (run / "report.html").read_text()
