"""Load-scenario summaries reach the tables and the report (server backends), skip reasons included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from report_runs import make_run

from harness.report import write_report
from harness.results import RunStore
from harness.results.layout import CellFiles
from harness.runner.collect import load_points


def _write_summaries(cell_dir: Path) -> None:
    cell_dir.mkdir(parents=True, exist_ok=True)
    point = {
        "scenario": "sweep",
        "kind": "concurrency",
        "point": "c=8",
        "repetition": 0,
        "concurrency": 8,
        "requests_planned": 16,
        "requests_sent": 16,
        "requests_ok": 15,
        "requests_failed": 1,
        "error_rate": 1 / 16,
        "achieved_rate_rps": 7.5,
        "throughput_rps": 7.0,
        "output_tps": 224.0,
        "goodput_rps": 6.0,
        "slo_attainment": 0.75,
        "ttft_p95_s": 0.4,
        "e2e_p95_s": 1.9,
        "dispatch_delay_p95_s": 0.002,
        "dispatch_delay_max_s": 0.004,
        "stopped_by": "requests",
        "top_errors": "1x HTTP 503",
        "cost_usd": None,
        "not_a_column": 1,
    }
    lines = [
        {
            "scenario": "sweep",
            "summary": {"scenario": "sweep", "kind": "concurrency", "skipped": None, "points": [point]},
        },
        {
            "scenario": "rate",
            "summary": {
                "scenario": "rate",
                "kind": "rate",
                "points": [],
                "skipped": "backend of 'nano' serves one request at a time",
            },
        },
    ]
    (cell_dir / "load_summary.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_load_points_flatten_points_and_keep_skip_reasons(tmp_path: Path) -> None:
    _write_summaries(tmp_path / "cell")
    rows = load_points(CellFiles(tmp_path / "cell"))
    assert [r["point"] if not r.get("skipped") else "skipped" for r in rows] == ["c=8", "skipped"]
    assert "not_a_column" not in rows[0] and rows[0]["goodput_rps"] == 6.0
    assert "one request at a time" in rows[1]["skipped"]


def test_report_shows_load_table_with_skip_reason_and_no_nan(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    rows = [
        {**r, "cell_id": "full@laptop", "model": "full", "profile": "laptop"}
        for r in load_points(_cell_with_summaries(tmp_path))
    ]
    store = RunStore.open(run)
    store.write_table("load", pd.DataFrame(rows))
    html = write_report(run).html.read_text(encoding="utf-8")
    section = html[html.index('id="load"') : html.index("</section>", html.index('id="load"'))]
    assert "c=8" in section and "not run: backend of &#39;nano&#39; serves one request at a time" in section
    assert "HTTP 503" in section
    assert "nan" not in section.lower().replace("nano", "")
    assert not math.isnan(store.read_table("load")["throughput_rps"].dropna().iloc[0])


def _cell_with_summaries(tmp_path: Path) -> CellFiles:
    _write_summaries(tmp_path / "cell")
    return CellFiles(tmp_path / "cell")
