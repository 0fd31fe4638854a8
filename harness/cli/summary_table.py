"""The terminal summary printed at the end of a run."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.safetext import terminal

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


def contention_lines(summary: pd.DataFrame) -> list[str]:
    """One line per cell whose neighbours took more of its cores than the meter allows."""
    if "contended" not in summary.columns:
        return []
    lines = []
    for _, row in summary[summary["contended"].fillna(False).astype(bool)].iterrows():
        share = _num(row.get("host_other_cpu_share"), ".0%")
        lines.append(
            f"{row['model']}@{row['profile']}: contended — other processes took {share} of its "
            f"{_num(row.get('cores_seen'), '.0f')} cores; its latency is not the model's (rerun with --quiet-host)"
        )
    return lines


def print_summary(console: Console, summary: pd.DataFrame) -> None:
    console.print(summary_table(summary))
    for line in contention_lines(summary):
        console.print(f"  [yellow]{terminal(line)}[/]")
    problems = summary[summary["status"].fillna("ok") != "ok"]
    for _, row in problems.iterrows():
        # a reason can quote a server's error or a file name: print it as text, never as rich markup
        reason = terminal(row.get("reason") or "")
        console.print(
            f"  [bold]{terminal(row['model'])}@{terminal(row['profile'])}[/]: {terminal(row['status'])} — {reason}"
        )


def print_published(console: Console, meta: dict[str, Any], scores: pd.DataFrame, label: str = "") -> None:
    """Measured scores beside the ones the models' authors published, where this run has both."""
    from harness.results.published import TOLERANCE, compare_published

    rows = compare_published(meta, scores)
    if not rows:
        return
    table = Table(title=f"{label}published vs measured (agrees: within our 95% CI ± {TOLERANCE * 100:.0f} pts)")
    for name in (
        "model",
        "benchmark",
        "metric",
        "shots",
        "measured ±95% (n)",
        "published",
        "diff",
        "verdict",
        "source",
    ):
        table.add_column(name, justify="right" if name in ("shots", "published", "diff") else "left")
    for r in rows:
        interval = (
            f" [{r.ci_low * 100:.1f}–{r.ci_high * 100:.1f}]" if r.ci_low is not None and r.ci_high is not None else ""
        )
        table.add_row(
            terminal(f"{r.model}@{r.profile}"),
            terminal(r.benchmark),
            terminal(r.metric),
            str(r.shots),
            f"{r.measured * 100:.1f}{interval} (n={r.n})",
            f"{r.published * 100:.1f}",
            f"{r.difference * 100:+.1f}",
            r.verdict,
            terminal(f"{r.variant}: {r.source}"),
        )
    console.print(table)
