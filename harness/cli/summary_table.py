"""The terminal summary printed at the end of a run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.safetext import terminal

if TYPE_CHECKING:
    from harness.report.recommend import Recommendation

STATUS_STYLE = {"ok": "green", "skipped": "yellow", "failed": "red", "does_not_fit": "magenta", "partial": "yellow"}


def _num(value: Any, fmt: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(float(value) * scale, fmt)


def _seconds(value: Any, fmt: str) -> str:
    text = _num(value, fmt)
    return text if text == "—" else f"{text} s"


def summary_table(summary: pd.DataFrame) -> Table:
    table = Table(title="tierbench results", show_lines=False, header_style="bold")
    for name, justify in [
        ("model", "left"),
        ("tier", "left"),
        ("backend", "left"),
        ("profile", "left"),
        ("status", "left"),
        ("accuracy ±95%", "right"),
        ("TTFT p50", "right"),
        ("E2E p95", "right"),
        ("decode tok/s", "right"),
        ("peak RSS MiB (anon/file)", "right"),
        ("energy J", "right"),
        ("load s", "right"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for _, row in summary.iterrows():
        status = str(row.get("status") or "ok")
        accuracy = row.get("accuracy")
        acc_text = "—"
        if accuracy is not None and not pd.isna(accuracy):
            half = (row.get("accuracy_ci_high", accuracy) - row.get("accuracy_ci_low", accuracy)) / 2
            acc_text = f"{accuracy * 100:.1f} ± {half * 100:.1f}"
        energy = "—"
        if row.get("energy_j") is not None and not pd.isna(row.get("energy_j")):
            label = "est. " if row.get("energy_source") == "estimate" else ""
            energy = f"{label}{_num(row.get('energy_j_low'), '.0f')}–{_num(row.get('energy_j_high'), '.0f')}"
        memory = f"{_num(row.get('peak_rss_mb'), '.0f')} ({_num(row.get('peak_anon_mb'), '.0f')}/{_num(row.get('peak_file_mb'), '.0f')})"
        status_text = f"[{STATUS_STYLE.get(status, 'white')}]{terminal(status)}[/]"
        table.add_row(
            terminal(row.get("model")),
            terminal(row.get("tier")),
            terminal(row.get("backend")),
            terminal(row.get("profile")),
            status_text,
            acc_text,
            _seconds(row.get("ttft_s_p50"), ".3f"),
            _seconds(row.get("e2e_s_p95"), ".2f"),
            _num(row.get("decode_tps_mean"), ".1f"),
            memory,
            energy,
            _num(row.get("load_time_s"), ".2f"),
        )
    return table


def print_summary(console: Console, summary: pd.DataFrame) -> None:
    console.print(summary_table(summary))
    problems = summary[summary["status"].fillna("ok") != "ok"]
    for _, row in problems.iterrows():
        # a reason can quote a server's error or a file name: print it as text, never as rich markup
        reason = terminal(row.get("reason") or "")
        console.print(
            f"  [bold]{terminal(row['model'])}@{terminal(row['profile'])}[/]: {terminal(row['status'])} — {reason}"
        )


def _span(row: Any, key: str, fmt: str, unit: str = "") -> str:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "—"
    return f"{_num(low, fmt)}–{_num(high, fmt)}{unit}"


def projection_table(projections: pd.DataFrame) -> Table:
    """Projected figures in their own table: ranges, labelled, never beside measured numbers."""
    table = Table(title="projected from host (roofline; not measured)", header_style="bold")
    for name in ("model", "profile", "why projected", "decode tok/s", "prefill tok/s", "TTFT p95", "E2E p95", "load s"):
        table.add_column(name, justify="left" if name in ("model", "profile", "why projected") else "right")
    for _, row in projections.iterrows():
        emulated = row.get("emulated_on")
        why = (
            f"also emulated on {emulated}"
            if isinstance(emulated, str) and emulated
            else str(row.get("not_emulated_reason") or "")
        )
        why = why.removeprefix("not emulated: ").removesuffix("; projected from host instead")
        if row.get("status") != "projected":
            table.add_row(
                terminal(row.get("model")),
                terminal(row.get("profile")),
                terminal(why),
                "not projected: " + terminal(row.get("reason")),
                "",
                "",
                "",
                "",
            )
            continue
        table.add_row(
            terminal(row.get("model")),
            terminal(row.get("profile")) + " [cyan](projected)[/]",
            terminal(why),
            _span(row, "decode_tps", ".1f"),
            _span(row, "prefill_tps", ".0f"),
            _span(row, "ttft_p95_s", ".3f", " s"),
            _span(row, "e2e_p95_s", ".2f", " s"),
            _span(row, "load_time_s", ".1f"),
        )
    return table


def print_projections(console: Console, projections: pd.DataFrame) -> None:
    if not projections.empty:
        console.print(projection_table(projections))


def print_recommendations(console: Console, recommendations: Sequence[Recommendation]) -> None:
    """One line per profile: what to run there, and how sure we are (projected picks say so)."""
    for r in recommendations:
        if r.choice is None:
            console.print(f"[bold]{terminal(r.profile)}[/]: no tier meets the constraints — {terminal(r.reason)}")
            continue
        label = f" [cyan](projected from {terminal(r.choice.projected_from)})[/]" if r.choice.projected_from else ""
        console.print(
            f"[bold]{terminal(r.profile)}[/]: run [bold]{terminal(r.choice.model)}[/]{label}; confidence {r.confidence}"
            + (f" — {terminal('; '.join(r.confidence_notes))}" if r.confidence_notes else "")
        )
