"""``tierbench models``: the model catalog, and which models can run on this machine (and why not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness.backends.registry import check_model
from harness.catalog import load_catalog
from harness.config.models import TIER_ORDER, ModelSpec
from harness.safetext import terminal


def runnable(spec: ModelSpec) -> tuple[bool, str]:
    """(can run here, reason): the backend plugin's cheap check, without building anything."""
    reason = check_model(spec)
    if reason is None and spec.backend == "cascade":
        return True, f"ready: {_chain(spec)}"
    return (reason is None), (reason or "ready")


def _chain(spec: ModelSpec) -> str:
    """``nano -> mini (multiple_choice: mc_margin >= 0.3; ...)``: what a cascade does, in one line."""
    params = spec.params
    rules = []
    signal, threshold = params.get("signal"), params.get("threshold")
    for kind, name in signal.items() if isinstance(signal, dict) else [("items", signal)]:
        value = threshold.get(name) if isinstance(threshold, dict) else threshold
        rules.append(f"{kind}: stay when {name} >= {value}")
    return " -> ".join(str(n) for n in params.get("chain", [])) + f" ({'; '.join(rules)})"


def _price(spec: ModelSpec) -> str:
    if spec.backend == "cascade":
        return "every tier tried"
    if spec.prices is None:
        return "hardware"
    return f"${spec.prices.input_per_mtok:g} in / ${spec.prices.output_per_mtok:g} out per 1M"


@click.group("models")
def command() -> None:
    """List the model catalog: tiers, backends, prices, and what can run here."""


@command.command("list")
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path),
    help="Your catalog YAML, merged over the default (same names replace, new names add).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_models(catalog_path: Path | None, as_json: bool) -> None:
    """Every model with its tier and backend, and whether it can run on this machine (with the reason)."""
    catalog = load_catalog(catalog_path)
    if catalog.ladders:  # list every rung; a run derives the ones it selects
        from harness.ladder.expand import expand_catalog

        catalog = expand_catalog(catalog, wanted=[])
    specs = sorted(catalog.models, key=lambda m: (TIER_ORDER[m.tier], m.name))
    rows: list[dict[str, Any]] = []
    for spec in specs:
        ok, reason = runnable(spec)
        if ok and spec.labels.get("ladder") and "model_path" not in spec.params:
            reason = "ready (quantization rung: derived from its source on first use)"
        rows.append(
            {
                "name": spec.name,
                "tier": spec.tier,
                "backend": spec.backend,
                "runnable": ok,
                "reason": reason,
                "prices": spec.prices.model_dump() if spec.prices else None,
                "description": spec.description,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=terminal(f"Models ({catalog_path or 'default catalog'})"))
    for column in ("name", "tier", "backend", "runnable", "reason", "cost"):
        table.add_column(column, overflow="fold")
    for row, spec in zip(rows, specs, strict=True):
        here = "yes" if row["runnable"] else "no"
        cells = (row["name"], row["tier"], row["backend"], here, row["reason"], _price(spec))
        table.add_row(*(terminal(cell) for cell in cells))
    Console(width=160).print(table)
