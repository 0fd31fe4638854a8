"""Trace replay (kind: trace): public trace layouts load as they are, bad traces fail on one line,
and the shipped slice of Azure's trace replays on its own schedule against the fault server."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from report_runs import make_run
from servers.fault_server import fault_server
from test_load_scenarios import api, run

from harness.config.suite import PerfScenario
from harness.errors import UserError
from harness.report import write_report
from harness.report.charts import schedule_lag_chart
from harness.results import RunStore
from harness.traces import read_trace, trace_path

# by path: this checkout's copy (the name alone finds the installed package's copy, tasks/traces/)
SLICE = str(Path(__file__).resolve().parents[1] / "tasks" / "traces" / "azure_llm_conv_2023_slice.csv")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_azure_slice_loads_as_it_is() -> None:
    rows = list(read_trace(trace_path(SLICE)))
    assert len(rows) == 120 and rows[0].at_s == 0.0
    assert rows[1].at_s == pytest.approx(50.9951690 - 46.6805900)
    assert (rows[0].prompt_tokens, rows[0].output_tokens, rows[0].prompt) == (374, 44, None)
    assert (trace_path(SLICE).parent / "SOURCE.txt").read_text().count("CC BY 4.0") == 1
    with pytest.raises(UserError, match=r"trace 'no-such\.csv' is not a file"):
        trace_path("no-such.csv")


def test_burstgpt_and_mooncake_columns_load_and_time_scale_and_window_apply(tmp_path: Path) -> None:
    burst = write(
        tmp_path, "b.csv", "Timestamp,Model,Request tokens,Response tokens\n5,x,10,20\n6.5,x,11,21\n9,x,12,22\n"
    )
    rows = list(read_trace(burst, time_scale=0.5, window_s=(1.0, 5.0)))
    assert [(r.at_s, r.prompt_tokens, r.output_tokens) for r in rows] == [(0.25, 11, 21), (1.5, 12, 22)]
    lines = [
        {"timestamp": 0, "input_length": 7, "output_length": 3, "hash_ids": [1]},
        {"timestamp": 1500, "input_length": 8, "output_length": 4},
    ]
    moon = write(tmp_path, "m.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    assert [r.at_s for r in read_trace(moon)] == [0.0, 1.5]  # Mooncake counts milliseconds
    own = write(tmp_path, "o.jsonl", '{"arrival_s": 0, "prompt": "hi there", "session_id": "a"}\n')
    (row,) = read_trace(own)
    assert (row.prompt, row.prompt_tokens, row.session) == ("hi there", None, "a")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the trace has no requests"),
        ("timestamp,prompt_tokens\n", "the trace has no requests"),
        ("prompt_tokens,output_tokens\n3,4\n", "no arrival-time column"),
        ("timestamp,output_tokens\n0,4\n", "no prompt text or prompt token column"),
        ("timestamp,prompt_tokens\n0,3\n1,abc\n", "line 3: prompt_tokens 'abc' is not a whole number"),
        ("timestamp,prompt_tokens\n2,3\n1,3\n", "line 3: timestamp goes back in time"),
        ("timestamp,prompt_tokens\n-1,3\n", "line 2: timestamp '-1' is negative"),
    ],
)
def test_a_bad_trace_gets_one_line_naming_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "t.csv", text)
    _refused_on_one_line(path, message)
    with pytest.raises(ValidationError, match="trace"):  # and the suite fails as it loads
        PerfScenario(name="s", kind="trace", trace=str(path))


def test_a_trace_is_streamed_not_loaded_whole(tmp_path: Path) -> None:
    """A huge trace: the head replays although a bad row follows far below (it is never read)."""
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write("timestamp,prompt_tokens\n")
        handle.writelines(f"{i},5\n" for i in range(200_000))
        handle.write("oops,5\n")
    head = list(itertools.islice(read_trace(path), 3))
    assert [r.at_s for r in head] == [0.0, 1.0, 2.0]
    assert [r.at_s for r in read_trace(path, window_s=(0.0, 2.0))] == [0.0, 1.0]


def test_bad_time_scale_and_window_are_named() -> None:
    with pytest.raises(ValidationError, match="time_scale"):
        PerfScenario(name="s", kind="trace", trace=SLICE, time_scale=0)
    with pytest.raises(ValidationError, match="window_s"):
        PerfScenario(name="s", kind="trace", trace=SLICE, window_s=(5.0, 1.0))


def test_replaying_the_azure_slice_keeps_its_schedule_and_charts_the_lag() -> None:
    scale = 0.06  # 46 s of trace in under 3 s: 43 requests a second on average, bursts faster
    with fault_server(tokens=2, ttft_s=0.02) as (url, _):
        result, records = run(api(url), kind="trace", trace=SLICE, time_scale=scale, request_timeout_s=10)
    (point,) = result["points"]
    assert point["point"] == "trace" and point["requests_sent"] == 120 and point["requests_ok"] == 120
    trace_times = [r.at_s for r in read_trace(trace_path(SLICE), time_scale=scale)]
    scheduled = sorted(r["scheduled_s"] for r in records)
    assert [t - scheduled[0] for t in scheduled] == pytest.approx(trace_times, abs=1e-6)  # the trace's own gaps
    lags = [r["dispatch_delay_s"] for r in records]
    assert float(np.percentile(lags, 95)) < 0.010 or point["client_limited"], point["dispatch_delay_p95_s"]
    frame = pd.DataFrame([{**r, "model": "api"} for r in records])
    chart = schedule_lag_chart(frame)
    assert chart is not None and chart.svg is not None and "schedule lag" in chart.svg


def test_the_report_shows_the_schedule_lag_in_the_load_section(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    store = RunStore.open(run_dir)
    ident = {"cell_id": "full@laptop", "model": "full", "profile": "laptop", "scenario": "replay", "point": "trace"}
    replayed = [
        {**ident, "index": i, "repetition": 0, "warmup": False, "scheduled_s": i * 0.1, "dispatch_delay_s": 0.001 * i}
        for i in range(5)
    ]
    store.write_table("requests", pd.concat([store.read_table("requests"), pd.DataFrame(replayed)], ignore_index=True))
    store.write_table("load", pd.DataFrame([{**ident, "kind": "trace", "requests_sent": 5, "client_limited": False}]))
    html = write_report(run_dir).html.read_text(encoding="utf-8")
    section = html[html.index('id="load"') : html.index("</section>", html.index('id="load"'))]
    assert 'id="chart-schedule-lag"' in section and "p95 3.8 ms, 5 requests" in section
    assert html.count('id="chart-schedule-lag"') == 1
    # a section of the page, linked from the navigation bar, not inside it
    assert html.index("</nav>") < html.index('<section id="load">') and '<a href="#load">Load</a>' in html


def test_a_relative_trace_path_is_found_beside_the_suite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.suites import load_suite

    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "mine.csv").write_text("timestamp,input_length,output_length\n0,10,5\n1000,12,6\n", encoding="utf-8")
    scenario = {"name": "replay", "kind": "trace", "trace": "mine.csv"}
    (folder / "suite.yaml").write_text(json.dumps({"name": "t", "scenarios": [scenario]}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the working directory has no mine.csv: the suite's folder is where it is
    loaded = load_suite(str(folder / "suite.yaml"))
    assert loaded.scenarios[0].trace == str((folder / "mine.csv").resolve())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"timestamp": 0, "prompt_tokens": 3}\n{"timestamp": 1,\n', "line 2: not JSON"),
        ('{"timestamp": NaN, "prompt_tokens": 3}\n', "line 1: non-finite number NaN"),
        ("[0, 3]\n", "line 1: expected a JSON object of fields, got list"),
    ],
)
def test_a_bad_jsonl_trace_line_is_named_like_any_jsonl_file(tmp_path: Path, text: str, message: str) -> None:
    _refused_on_one_line(write(tmp_path, "t.jsonl", text), message)


def _refused_on_one_line(path: Path, message: str) -> None:
    """Reading the trace at ``path`` fails with one line that names the file and says ``message``."""
    with pytest.raises(UserError, match=message) as caught:
        list(read_trace(path))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
