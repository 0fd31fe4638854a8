"""Sweep to saturation and the client-limited flag, against a fault server of known capacity.

The server serves 4 requests at once, each 0.1 s (40 ms to the first token, then 3 tokens 20 ms
apart), and queues the rest: 40 requests per second saturate it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from gate_runs import Cell, write_run
from report_runs import make_run
from servers.fault_server import fault_server
from test_load_scenarios import api, run

from harness.config.rules import GateRules
from harness.config.suite import PerfScenario
from harness.gate import evaluate, from_run
from harness.report import write_report
from harness.report.loadnotes import point_notes
from harness.report.view import build_view
from harness.results import RunStore
from harness.runner.load import point_count

CAPACITY_RPS = 4 / (0.04 + 3 * 0.02)


def test_sweep_names_the_knee_near_capacity_and_flags_over_saturation() -> None:
    with fault_server(tokens=4, ttft_s=0.04, delay_s=0.02, slots=4) as (url, _):
        result, _records = run(api(url), kind="sweep", concurrency=[16], sweep_rates=5, requests=20)
    points = result["points"]
    labels = [p["point"] for p in points]
    assert labels[:2] == ["c=1", "c=16"] and all(label.startswith("rate=") for label in labels[2:])
    assert result["knee_rps"] == pytest.approx(CAPACITY_RPS, rel=0.15), [
        (p["point"], p["saturated"]) for p in points[2:]
    ]
    rated = points[2:]
    assert rated[-1]["saturated"] and rated[-1]["rate"] > CAPACITY_RPS  # the sweep stopped at over-saturation
    assert not any(p["saturated"] for p in rated[:-1])
    assert [p["knee"] for p in points].count(True) == 1 and rated[-2]["knee"]


def test_a_point_whose_client_sends_late_is_client_limited() -> None:
    with fault_server(tokens=2, ttft_s=0.02) as (url, _):
        backend = api(url)
        result, _ = run(backend, kind="rate", rate=20.0, requests=6)
        assert result["points"][0]["client_limited"] is False
        result, _ = run(backend, kind="rate", rate=20.0, requests=6, client_limited_share=0.0001)
    assert result["points"][0]["client_limited"] is True  # any delay at all exceeds a tiny share of TTFT


def test_sweep_needs_a_probe_level_and_plans_its_rates() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        PerfScenario(name="s", kind="sweep")
    fields: dict[str, Any] = {"name": "s", "kind": "sweep", "concurrency": [8], "sweep_rates": 3}
    assert point_count(PerfScenario(**fields)) == 2 + 3 + 2


def test_gate_withholds_a_latency_verdict_on_a_cell_with_client_limited_points(tmp_path: Path) -> None:
    rules = GateRules.model_validate(
        {"bootstrap_iterations": 1000, "rules": [{"metric": "ttft_p95", "max_increase_pct": 10}]}
    )
    base = from_run(write_run(tmp_path / "base", [Cell(latency_seed=1)]))
    limited = Cell(latency_seed=2, latency_scale=1.6, extra={"client_limited_points": 2})
    (result,) = evaluate(from_run(write_run(tmp_path / "run", [limited])), base, rules).results
    assert result.verdict == "inconclusive" and result.contended
    assert "client-limited load points (2 in the run)" in result.reason and "regressed" in result.reason
    slow = Cell(latency_seed=2, latency_scale=1.6, extra={"client_limited_points": 0})
    (result,) = evaluate(from_run(write_run(tmp_path / "run2", [slow])), base, rules).results
    assert result.verdict == "regressed"  # the same slowdown from a client that kept up still fails


def test_report_and_terminal_show_the_knee_saturation_and_client_limited_points(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    ident = {"cell_id": "full@laptop", "model": "full", "profile": "laptop", "scenario": "sw", "kind": "sweep"}
    rows = [
        {**ident, "point": "rate=30", "rate": 30.0, "knee": True, "saturated": False, "client_limited": False},
        {**ident, "point": "rate=45", "rate": 45.0, "knee": False, "saturated": True, "client_limited": False},
        {**ident, "point": "rate=60", "rate": 60.0, "knee": False, "saturated": False, "client_limited": True},
    ]
    RunStore.open(run).write_table("load", pd.DataFrame(rows))
    html = write_report(run).html.read_text(encoding="utf-8")
    section = html[html.index('id="load"') : html.index("</section>", html.index('id="load"'))]
    flags = [part.split("</tr>")[0] for part in section.split("<td>sw</td>")[1:]]
    assert ["knee</strong>" in f for f in flags] == [True, False, False]
    assert ["over-saturated" in f for f in flags] == [False, True, False]
    assert ["client-limited" in f for f in flags] == [False, False, True]
    view = build_view(run)
    notes = [point_notes(row) for row in view.load]
    assert ["knee" in " ".join(n) for n in notes] == [True, False, False]
    assert ["client-limited" in " ".join(n) for n in notes] == [False, False, True]
