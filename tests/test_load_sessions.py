"""Multi-turn sessions (kind: sessions) and the shared prefix (prefix_tokens) against the fault server."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from report_runs import make_run
from servers.fault_server import FaultState, fault_server
from test_load_scenarios import api, run

from harness.config.suite import PerfScenario
from harness.report import write_report
from harness.report.loadnotes import session_notes
from harness.results import RunStore
from harness.runner.load import point_count


def _prompts(state: FaultState) -> list[str]:
    return [str(r["body"].get("prompt") or r["body"]["messages"][0]["content"]) for r in state.requests]


def test_each_turn_carries_the_earlier_ones_after_the_think_time_and_a_cold_prompt_matches_the_last() -> None:
    with fault_server(tokens=2, ttft_s=0.01) as (url, state):
        result, records = run(
            api(url), kind="sessions", turns=3, think_time_s=0.1, requests=1, concurrency=[1], prompt_tokens=[6]
        )
        one, two, three, cold = _prompts(state)
    assert [p["point"] for p in result["points"]] == ["turn=1", "turn=2", "turn=3", "cold"]
    assert all(p["requests_ok"] == 1 for p in result["points"])
    assert two.startswith(one) and three.startswith(two) and " t0 t1" in two  # the answer is in the context
    assert len(cold.split()) == len(three.split()) and cold[:20] != three[:20]  # same length, nothing shared
    by_turn = {r["point"]: r for r in records}
    for earlier, later in (("turn=1", "turn=2"), ("turn=2", "turn=3")):
        ended = by_turn[earlier]["scheduled_s"] + by_turn[earlier]["dispatch_delay_s"] + by_turn[earlier]["e2e_s"]
        assert by_turn[later]["scheduled_s"] - ended >= 0.1 - 0.005  # the think time passed first


def test_conversations_run_side_by_side_and_each_point_counts_them() -> None:
    with fault_server(tokens=2, ttft_s=0.05) as (url, state):
        result, _ = run(api(url), kind="sessions", turns=2, requests=4, concurrency=[2])
    assert [p["requests_ok"] for p in result["points"]] == [4, 4, 4]
    assert state.max_in_flight == 2
    assert point_count(PerfScenario(name="s", kind="sessions", turns=2)) == 3


def test_prefix_tokens_start_every_prompt_with_the_same_system_prompt() -> None:
    with fault_server(tokens=2) as (url, state):
        run(api(url), kind="rate", rate=50.0, requests=4, prefix_tokens=5, prompt_tokens=[3])
        prompts = _prompts(state)
    heads = {tuple(p.split()[:5]) for p in prompts}
    assert len(prompts) == 4 and len(heads) == 1 and len({p for p in prompts}) == 4
    assert all(len(p.split()) == 8 for p in prompts)


def test_report_and_terminal_state_what_later_turns_saved_over_a_cold_prompt(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    ident = {"cell_id": "full@laptop", "model": "full", "profile": "laptop", "scenario": "chat", "kind": "sessions"}
    rows = [
        {**ident, "repetition": 0, "point": "turn=1", "ttft_p50_s": 0.30},
        {**ident, "repetition": 0, "point": "turn=2", "ttft_p50_s": 0.12},
        {**ident, "repetition": 0, "point": "cold", "ttft_p50_s": 0.40},
    ]
    RunStore.open(run_dir).write_table("load", pd.DataFrame(rows))
    (line,) = session_notes(rows)
    assert "turn=2 median TTFT 0.120 s is below a cold prompt of the same length (0.400 s, +70% saved" in line
    html = write_report(run_dir).html.read_text(encoding="utf-8")
    section = html[html.index('id="load"') : html.index("</section>", html.index('id="load"'))]
    assert "is below a cold prompt of the same length" in section
    slower = [{**r, "ttft_p50_s": 0.5} if r["point"] == "turn=2" else r for r in rows]
    assert "is not below a cold prompt" in session_notes(slower)[0]
