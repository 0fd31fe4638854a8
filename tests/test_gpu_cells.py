"""A cell that ran on a GPU: measured energy shown as measured, GPU memory judging fit, constraint and chart."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from report_runs import make_run
from rich.console import Console

from harness.cli.summary_table import print_summary
from harness.config.profile import Accelerator
from harness.fitcost import fit_verdict
from harness.report import write_report
from harness.report.charts import tradeoff_chart
from harness.report.formatting import energy_text
from harness.report.metrics import MEMORY
from harness.report.recommend import recommend
from harness.report.view import RunView, build_view
from harness.results.memoryfigure import judged_memory


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("gpu") / "run", gpu=True)


@pytest.fixture(scope="module")
def view(gpu_run: Path) -> RunView:
    return build_view(gpu_run)


def test_energy_text_measured_is_one_value_with_its_source() -> None:
    assert energy_text(123.4, None, None, "nvml") == "123 J (nvml)"
    assert energy_text(5.0, None, None, "rapl+nvml") == "5.00 J (rapl+nvml)"
    assert energy_text(12.0, 8.4, 15.6, "estimate") == "est. 8.40 J–15.6 J"
    assert energy_text(None, None, None, "nvml") == "—"


def test_terminal_shows_measured_energy_and_labelled_gpu_memory(view: RunView) -> None:
    out = io.StringIO()
    print_summary(Console(file=out, width=400, color_system=None), view)
    text = out.getvalue()
    assert "(nvml)" in text and "—–—" not in text
    assert "GPU 5000" in text and "RSS 380" in text  # mini on the laptop: GPU figure, host RSS beside it
    assert "est. " in text  # the emulated edge cell keeps its estimated range


def test_gpu_memory_is_the_metric_of_a_gpu_cell(view: RunView) -> None:
    mini = view.cell("mini", "laptop")
    nano_edge = view.cell("nano", "edge")
    assert mini is not None and nano_edge is not None
    assert mini.memory_on_gpu and mini.get(MEMORY.key).value == 5000.0 and "NVML" in mini.memory_label
    assert mini.numbers["peak_rss_mb"] == 380.0  # host RSS kept beside it
    assert not nano_edge.memory_on_gpu and nano_edge.get(MEMORY.key).value == 205.0


def test_memory_constraint_uses_gpu_memory(view: RunView) -> None:
    """max_memory_mb 4096: mini's RSS (380) would pass, its GPU process memory (5,000) does not."""
    laptop = next(r for r in recommend(view.cells, view.constraints) if r.profile == "laptop")
    assert laptop.choice is None or laptop.choice.model != "mini"


def test_chart_and_reports_label_the_gpu_figure(gpu_run: Path, view: RunView) -> None:
    chart = tradeoff_chart(view.cells, MEMORY)
    assert chart.svg is not None and "mini (GPU)" in chart.svg
    paths = write_report(gpu_run)
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "(nvml)" in markdown and "host RSS 380 MB" in markdown
    assert "host RSS 380 MB" in paths.html.read_text(encoding="utf-8")


def test_fit_of_a_gpu_cell_is_judged_against_gpu_memory() -> None:
    from harness.devicememory import total_mib

    h100 = Accelerator(kind="gpu", name="NVIDIA H100 80GB HBM3", memory_gb=79.6, memory_mb=81559)
    budget = total_mib(h100)
    assert budget == 81559
    row = {"status": "ok", "peak_rss_mb": 900.0, "peak_anon_mb": 600.0, "model_file_mb": None}
    fits = fit_verdict({**row, "gpu_process_mb": 1500.0, "gpu_peak_allocated_mb": 300.0}, 200.0, None, budget)
    assert fits[0] == "fits" and fits[2] == 1500.0  # host RSS over a 200 MiB host budget does not decide it
    assert "GPU memory (NVML" in fits[1] and "host RSS" in fits[1]
    over = fit_verdict({**row, "gpu_process_mb": 82000.0}, 10**6, None, budget)
    assert over[0] == "does_not_fit" and "> 79.65 GB GPU memory" in over[1]
    # a CPU cell on the same machine (torch imported, nothing on the card) is still judged by RSS
    assert not judged_memory({**row, "gpu_process_mb": None, "gpu_peak_allocated_mb": 0.0}).on_gpu
