"""The terminal summary printed at the end of a run, read through the report's view of the run."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from harness.meters.latency import summarize
from harness.report.metrics import ACCURACY, MEMORY, P95_E2E
from harness.report.view import CellView, RunView
from harness.results.schema import CellStatus
from harness.safetext import terminal

STATUS_STYLE: dict[str, str] = {
    CellStatus.OK: "green",
    CellStatus.SKIPPED: "yellow",
    CellStatus.FAILED: "red",
    CellStatus.DOES_NOT_FIT: "magenta",
}
COLUMNS = ("model", "tier", "backend", "profile", "status", "accuracy ±95%", "TTFT p50", "E2E p95", "decode tok/s",
           "peak RSS MiB (anon/file)", "energy J", "load s")  # fmt: skip


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None or math.isnan(value) else format(value, fmt)


def _seconds(value: float | None, fmt: str) -> str:
    text = _num(value, fmt)
    return text if text == "—" else f"{text} s"


def _row(view: RunView, cell: CellView) -> list[str]:
    requests = view.requests
    mine = (
        requests[(requests["model"] == cell.model) & (requests["profile"] == cell.profile)]
        if len(requests)
        else requests
    )
    ttft = summarize(mine["ttft_s"].tolist()) if len(mine) else {}
    decode = summarize(mine["decode_tps"].tolist()) if len(mine) else {}
    accuracy = cell.get(ACCURACY.key)
    acc_text = "—"
    if accuracy.value is not None:
        half = (accuracy.high - accuracy.low) / 2 if accuracy.high is not None and accuracy.low is not None else 0.0
        acc_text = f"{accuracy.value * 100:.1f} ± {half * 100:.1f}"
    numbers = cell.numbers
    energy = "—"
    if numbers.get("energy_j") is not None:
        label = "est. " if cell.energy_source == "estimate" else ""
        energy = f"{label}{_num(numbers.get('energy_j_low'), '.0f')}–{_num(numbers.get('energy_j_high'), '.0f')}"
    anon, file = _num(numbers.get("peak_anon_mb"), ".0f"), _num(numbers.get("peak_file_mb"), ".0f")
    return [
        terminal(cell.model),
        terminal(cell.tier),
        terminal(cell.backend),
        terminal(cell.profile),
        f"[{STATUS_STYLE.get(cell.status, 'white')}]{terminal(cell.status)}[/]",
        acc_text,
        _seconds(ttft.get("p50"), ".3f"),
        _seconds(cell.get(P95_E2E.key).value, ".2f"),
        _num(decode.get("mean"), ".1f"),
        f"{_num(cell.get(MEMORY.key).value, '.0f')} ({anon}/{file})",
        energy,
        _num(numbers.get("load_time_s"), ".2f"),
    ]


def print_summary(console: Console, view: RunView) -> None:
    """One row per cell, then why each cell that did not complete stopped."""
    table = Table(title="tierbench results", show_lines=False, header_style="bold")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in COLUMNS[:5] else "right")
    for cell in view.cells:
        table.add_row(*_row(view, cell))
    console.print(table)
    for cell in view.cells:
        if cell.status != CellStatus.OK:
            # a reason can quote a server's error or a file name: print it as text, never as rich markup
            console.print(
                f"  [bold]{terminal(cell.model)}@{terminal(cell.profile)}[/]: {terminal(cell.status)} — {terminal(cell.reason)}"
            )
