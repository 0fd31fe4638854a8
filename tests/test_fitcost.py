"""Fit verdicts, cost and energy per request, and slowdown — the arithmetic on small hand-made tables."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.catalog import default_catalog
from harness.config.models import ModelSpec, Prices
from harness.config.profile import HardwareProfile
from harness.fitcost import FITCOST_COLUMNS, enrich_cells, fit_verdict
from harness.hardware import get_profile
from harness.results.columns import CELL_COLUMNS


def profile(name: str, memory_mb: float, usd_per_hour: float, usd_per_kwh: float = 0.2) -> HardwareProfile:
    return HardwareProfile.model_validate(
        {
            "name": name,
            "class": "edge",
            "cores": 1,
            "memory_mb": memory_mb,
            "power": {"idle_watts": 2, "max_watts": 6, "source": "test"},
            "cost": {"usd_per_hour": usd_per_hour, "usd_per_kwh": usd_per_kwh},
        }
    )


LOCAL = ModelSpec(name="nano", tier="nano", backend="llamacpp")
API = ModelSpec(
    name="full", tier="full", backend="openai", prices=Prices(input_per_mtok=1.0, output_per_mtok=10.0, source="list")
)
PROFILES = {
    "host": profile("host", 8192, 0.0, 0.15),
    "edge": profile("edge", 1024, 3.6),
    "tiny": profile("tiny", 256, 3.6),
    "gpu": profile("gpu", 4096, 1.0),
}
MODELS = {"nano": LOCAL, "full": API}


def cell(cell_id: str, **fields: object) -> dict[str, object]:
    model, prof = cell_id.split("@")
    return {"cell_id": cell_id, "model": model, "profile": prof, "status": "ok", "reason": "", **fields}


def requests(
    cell_id: str, e2e: list[float], output_tokens: int = 10, prompt_tokens: int = 100
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"cell_id": cell_id, "scenario": "s", "point": "p", "warmup": True, "error": None, "e2e_s": 99.0}
    ]
    for value in e2e:
        rows.append(
            {
                "cell_id": cell_id,
                "scenario": "s",
                "point": "p",
                "warmup": False,
                "error": None,
                "e2e_s": value,
                "concurrency": 1,
                "prompt_tokens": prompt_tokens,
                "output_tokens": output_tokens,
            }
        )
    return rows


def enrich(cells: list[dict[str, object]], reqs: list[dict[str, object]]) -> pd.DataFrame:
    return enrich_cells(pd.DataFrame(cells), pd.DataFrame(reqs), PROFILES, MODELS).set_index("cell_id")


def test_columns_are_declared() -> None:
    assert set(FITCOST_COLUMNS) <= set(CELL_COLUMNS)
    assert {"cpus", "limit_mechanism"} <= set(CELL_COLUMNS)


def test_fit_is_weights_plus_working_memory_against_budget() -> None:
    table = enrich(
        [
            cell("nano@edge", model_file_mb=102.4, peak_anon_mb=204.8, memory_budget_mb=1024, emulated_on="vm"),
            cell("nano@tiny", model_file_mb=102.4, peak_anon_mb=204.8, memory_budget_mb=256, emulated_on="vm"),
        ],
        [],
    )
    edge, tiny = table.loc["nano@edge"], table.loc["nano@tiny"]
    assert edge["fit"] == "fits"
    assert edge["fit_reason"] == "weights 0.10 GB + working 0.20 GB = 0.30 GB ≤ 1.00 GB budget"
    assert edge["fit_required_mb"] == pytest.approx(307.2)
    assert tiny["fit"] == "does_not_fit" and "> 0.25 GB budget" in tiny["fit_reason"]


def test_over_budget_cell_keeps_the_watchdog_reason() -> None:
    reason = "does not fit (peak 0.19 GB > 0.06 GB)"
    table = enrich([cell("nano@tiny", status="does_not_fit", reason=reason, peak_rss_mb=190.0)], [])
    row = table.loc["nano@tiny"]
    assert (row["fit"], row["fit_reason"], row["fit_required_mb"]) == ("does_not_fit", reason, 190.0)
    assert pd.isna(row["cost_per_1k_requests_usd"])


def test_skipped_profile_gets_an_estimate_from_a_cell_that_ran() -> None:
    table = enrich(
        [
            cell("nano@host", model_file_mb=100.0, peak_anon_mb=100.0, memory_budget_mb=8192),
            cell("nano@gpu", status="skipped", reason="needs a gpu", memory_budget_mb=4096),
            cell("full@gpu", status="skipped", reason="no API key", memory_budget_mb=4096),
        ],
        [],
    )
    estimated = table.loc["nano@gpu"]
    assert estimated["fit"] == "fits" and "estimated from nano@host" in estimated["fit_reason"]
    unknown = table.loc["full@gpu"]
    assert unknown["fit"] == "unknown" and "no API key" in unknown["fit_reason"]


def test_local_cost_is_hourly_price_times_time_plus_energy() -> None:
    # 2 s per request on a $3.60/h device = $0.002 per request; the cell drew 10 J/s on average,
    # so 20 J per request = 20 / 3.6e6 kWh x $0.20.
    cells = [
        cell(
            "nano@edge",
            model_file_mb=100.0,
            peak_anon_mb=100.0,
            memory_budget_mb=1024,
            emulated_on="vm",
            energy_j=1000.0,
            energy_j_low=500.0,
            energy_j_high=1500.0,
            duration_s=100.0,
        )
    ]
    row = enrich(cells, requests("nano@edge", [1.0, 3.0])).loc["nano@edge"]
    energy_cost = 20.0 / 3.6e6 * 0.2
    assert row["seconds_per_request"] == pytest.approx(2.0)
    assert row["energy_per_request_j"] == pytest.approx(20.0)
    assert (row["energy_per_request_j_low"], row["energy_per_request_j_high"]) == pytest.approx((10.0, 30.0))
    assert row["energy_per_token_j"] == pytest.approx(2.0)
    assert row["energy_cost_per_1k_requests_usd"] == pytest.approx(1000 * energy_cost)
    assert row["cost_per_1k_requests_usd"] == pytest.approx(1000 * (0.002 + energy_cost))
    assert row["cost_per_mtok_usd"] == pytest.approx((0.002 + energy_cost) / 10 * 1e6)
    assert row["cost_basis"].startswith("profile $3.6/h")


def test_api_cost_uses_catalog_prices() -> None:
    row = enrich([cell("full@host", peak_rss_mb=80.0, memory_budget_mb=8192)], requests("full@host", [0.5, 0.5])).loc[
        "full@host"
    ]
    per_request = (100 * 1.0 + 10 * 10.0) / 1e6
    assert row["cost_per_1k_requests_usd"] == pytest.approx(1000 * per_request)
    assert row["cost_per_mtok_usd"] == pytest.approx(per_request / 10 * 1e6)
    assert row["cost_basis"] == "api list price (list)"
    assert pd.isna(row["energy_per_request_j"])
    assert row["fit"] == "fits" and row["fit_reason"].startswith("remote model")


def test_concurrent_requests_share_machine_time() -> None:
    reqs = requests("nano@host", [4.0, 4.0])
    for record in reqs:
        record["concurrency"] = 4
    cells = [cell("nano@host", model_file_mb=1.0, peak_anon_mb=1.0, memory_budget_mb=8192)]
    assert enrich(cells, reqs).loc["nano@host", "seconds_per_request"] == pytest.approx(1.0)


def test_slowdown_compares_the_same_points_with_host() -> None:
    cells = [
        cell("nano@host", model_file_mb=1.0, peak_anon_mb=1.0, memory_budget_mb=8192),
        cell("nano@edge", model_file_mb=1.0, peak_anon_mb=1.0, memory_budget_mb=1024, emulated_on="vm"),
    ]
    table = enrich(cells, requests("nano@host", [1.0, 1.0]) + requests("nano@edge", [3.0, 5.0]))
    assert table.loc["nano@edge", "slowdown_vs_host"] == pytest.approx(4.0)
    assert table["slowdown_vs_host"].isna()["nano@host"]


def test_empty_and_error_only_tables() -> None:
    empty = enrich_cells(pd.DataFrame(), pd.DataFrame(), PROFILES, MODELS)
    assert list(empty.columns) == FITCOST_COLUMNS and empty.empty
    failed = [{**r, "error": "boom"} for r in requests("nano@host", [1.0])]
    row = enrich([cell("nano@host", model_file_mb=1.0, peak_anon_mb=1.0)], failed).loc["nano@host"]
    assert pd.isna(row["seconds_per_request"]) and row["fit"] == "fits"  # budget from the profile


def test_fit_verdict_without_budget_is_unknown() -> None:
    assert fit_verdict({"status": "ok"}, None, None)[0] == "unknown"


def test_shipped_profiles_cost_the_catalog_models() -> None:
    """Every shipped profile has a price, so every local catalog model gets a cost when it runs."""
    catalog = {m.name: m for m in default_catalog().models}
    cells = [cell("nano@edge-1c-1gb", model_file_mb=90.0, peak_anon_mb=100.0, memory_budget_mb=1024)]
    table = enrich_cells(
        pd.DataFrame(cells),
        pd.DataFrame(requests("nano@edge-1c-1gb", [0.5])),
        {"edge-1c-1gb": get_profile("edge-1c-1gb")},
        catalog,
    )
    assert table.loc[0, "cost_per_1k_requests_usd"] == pytest.approx(1000 * 0.004 * 0.5 / 3600)
