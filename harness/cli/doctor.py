"""``tierbench doctor``: which sensors and memory counters this machine has, and why the others are missing."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.hardware import host_profile
from harness.meters.doctor import diagnose
from harness.meters.host import fingerprint
from harness.meters.rapl import POWERCAP
from harness.safetext import terminal


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of tables.")
@click.option(
    "--powercap-root",
    type=click.Path(path_type=Path),
    default=POWERCAP,
    show_default=True,
    help="Where to look for RAPL counters (for containers that mount sysfs elsewhere).",
)
def command(as_json: bool, powercap_root: Path) -> None:
    """Say which energy sensors and memory counters work here, and why the others do not."""
    from dataclasses import asdict

    capabilities = [asdict(c) for c in diagnose(host_profile(), powercap_root)]
    host = fingerprint()
    sensors = [c["name"] for c in capabilities if c["group"] == "energy" and c["available"] and c["name"] != "estimate"]
    source = "+".join(str(s) for s in sensors) or "estimate"
    if as_json:
        click.echo(json.dumps({"energy_source": source, "capabilities": capabilities, "host": host}, indent=2))
        return
    console = Console()
    table = Table(title="Measurement support on this machine")
    for column in ("group", "name", "available", "detail"):
        table.add_column(column, overflow="fold")
    for cap in capabilities:
        mark = "[green]yes[/green]" if cap["available"] else "[red]no[/red]"
        # a detail quotes what a sensor file held, and a host's names are its owner's: text, not markup
        table.add_row(terminal(cap["group"]), terminal(cap["name"]), mark, terminal(cap["detail"]))
    console.print(table)
    console.print(f"Energy on the host profile will be measured with: [bold]{source}[/bold]")
    gpus = ", ".join(g["name"] for g in host["gpus"]) or "none"
    llama = host["llama_cpp"].get("version", "not installed")
    console.print(
        f"Host: {host['cpu_model']}, {host['usable_cores']} usable / {host['logical_cores']} logical cores, "
        f"{host['memory_mb']} MiB, {host['os']}, Python {host['python']}, llama-cpp-python {llama}, GPU: {gpus}",
        markup=False,
        highlight=False,
    )
