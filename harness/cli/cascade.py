"""``tierbench cascade RUN``: replay "cheap tier first, escalate when unsure" from a run's samples."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path

import click

from harness.results.values import finite_or_none  # pandas turns a table's None into NaN
from harness.safetext import terminal

_FORMATS: dict[str, Callable[[float], str]] = {
    "percent": lambda v: f"{v:.1%}",
    "usd": lambda v: f"${v:.3g}",
    "seconds": lambda v: f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s",
    "joules": lambda v: f"{v:.3g} J",
    "ratio": lambda v: f"{v:.3g}",
}


def _fmt(value: float | None, kind: str) -> str:
    return "—" if value is None else _FORMATS.get(kind, _FORMATS["ratio"])(value)


def _ci(row: Mapping[Hashable, object], name: str, kind: str) -> str:
    """The value, and its 95% interval on a second line."""
    value, low, high = (finite_or_none(row.get(key)) for key in (name, f"{name}_low", f"{name}_high"))
    text = _fmt(value, kind)
    if value is not None and low is not None and high is not None and low != high:
        text += f"\n{_fmt(low, kind)}–{_fmt(high, kind)}"
    return text


@click.command("cascade")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--chain", help="Tiers in escalation order, e.g. nano,mini or nano@edge-1c-1gb,mini@host.")
@click.option("--signal", help="Confidence signal to escalate on (default: the one the samples carry most).")
@click.option("--profile", help="Profile of every tier without an @PROFILE when the run has several.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fit/test split and the bootstrap.")
@click.option(
    "--thresholds",
    "points",
    type=int,
    default=21,
    show_default=True,
    help="Points of the threshold sweep (quantiles of the signal, never to always escalate).",
)
def command(run_dir: Path, chain: str | None, signal: str | None, profile: str | None, seed: int, points: int) -> None:
    """Replay a cascade on the items every tier of the chain answered; write RUN/cascade.parquet and cascade.json.

    Prints accuracy, cost per 1k requests, latency p50/p95, energy per request and escalation
    rates for a sweep of thresholds (chosen on one half of the items, scored on the other),
    beside each single tier, random escalation and the oracle, with paired-bootstrap 95%
    intervals; then PGR, APGR, CPT(50%), CPT(80%) and the recommendation. See docs/cascade.md.
    """
    from rich.console import Console
    from rich.table import Table

    from harness.cascade import ReplayConfig, replay_run, write_outputs

    result = replay_run(run_dir, ReplayConfig(chain=chain, signal=signal, seed=seed, points=points, profile=profile))
    frame = result.frame()
    summary = result.summary
    k = len(result.steps)
    console = Console() if Console().is_terminal else Console(width=200)
    table = Table(
        title=terminal(f"cascade {result.chain} on {result.signal} — {len(result.test_keys)} held-out items"),
        header_style="bold",
    )
    columns = ["", "option", "quantile", "threshold", "accuracy", "random escalation", "cost / 1k req"]
    columns += ["p50 latency", "p95 latency", "energy / req"] + [f"→ {terminal(s.model)}" for s in result.steps[1:]]
    for name in columns:
        table.add_column(name, justify="left" if name in ("", "option", "threshold") else "right")
    records = frame.to_dict("records")
    random = [r for r in records if r["kind"] == "random"]
    shown = [r for r in records if r["kind"] != "random"]
    for i, row in enumerate(shown):
        escalation = [_ci(row, f"reach_{j}", "percent") for j in range(1, k)]
        is_curve = row["kind"] == "cascade"
        quantile = finite_or_none(row.get("quantile"))
        table.add_row(
            ("★ " if row["chosen"] else "") + ("" if is_curve else str(row["kind"])),
            terminal(str(row["label"])) if not is_curve or i == 0 else "",
            "" if quantile is None or not is_curve else f"{quantile:.2f}",
            terminal(str(row["threshold"])) if is_curve else "",
            _ci(row, "accuracy", "percent"),
            _ci(random[i], "accuracy", "percent") if is_curve else "",
            _ci(row, "cost_per_1k_usd", "usd"),
            _ci(row, "latency_p50_s", "seconds"),
            _ci(row, "latency_p95_s", "seconds"),
            _ci(row, "energy_per_request_j", "joules"),
            *escalation,
            end_section=is_curve and i + 1 < len(shown) and shown[i + 1]["kind"] != "cascade",
        )
    console.print(table)

    def fig(name: str, kind: str) -> str:
        f = summary[name]
        text = _fmt(f["value"], kind)
        if f["low"] is not None and f["high"] is not None:
            text += f" ({_fmt(f['low'], kind)}–{_fmt(f['high'], kind)})"
        return text if f["value"] is not None else "undefined (the last tier is not more accurate than the first)"

    chosen = summary["chosen"]
    lines = [
        f"Items: {summary['items']['fit']} to choose thresholds, {summary['items']['test']} held out to score them",
        f"Excluded: {summary['excluded_total']} item(s)"
        + (" — " + "; ".join(f"{n} {why}" for why, n in summary["excluded"].items()) if summary["excluded"] else ""),
        f"Chosen threshold: {chosen['threshold']} (quantile {chosen['quantile']:.2f}): {chosen['how']}",
        f"PGR at the chosen threshold: {fig('pgr', 'ratio')}",
        f"APGR: {fig('apgr', 'ratio')}",
        *(
            f"CPT({share}%): {fig(f'cpt{share}', 'percent')}"
            + (" of requests to the last tier" if summary[f"cpt{share}"]["value"] is not None else "")
            for share in (50, 80)
        ),
        summary["recommendation"],
    ]
    if summary["energy_estimated"]:
        lines.append("Energy includes estimates from a profile's power model (docs/metrics.md).")
    for line in lines:
        console.print(terminal(line), highlight=False)
    table_path, summary_path = write_outputs(run_dir, result)
    console.print(terminal(f"Wrote {table_path} and {summary_path}"), highlight=False)
