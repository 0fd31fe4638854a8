"""``tierbench profiles``: the hardware profiles a run can target, and whether this host can emulate each."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from harness.config.profile import HardwareProfile
from harness.devicememory import describe
from harness.hardware import all_profiles, get_profile, host_profile
from harness.runner.planner import emulation
from harness.safetext import terminal


def _emulation_line(profile: HardwareProfile, host: HardwareProfile) -> tuple[str, str]:
    """(verdict, reason): native, emulated or cannot, with why."""
    emulated_on, skip = emulation(profile, host)
    if skip is not None:
        if profile.performance is not None:
            return "no", f"{skip}; a run projects host results onto it instead"
        return "no", skip
    if emulated_on is None:
        return "native", "this machine"
    return "emulated", f"pinned to {profile.cores} of {host.cores} cores, {profile.memory_mb:.0f} MiB budget"


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out unset text fields so the YAML shows only what the profile says."""
    return {
        key: _drop_empty(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value not in ("", None, [])
    }


@click.group("profiles")
def command() -> None:
    """List and inspect hardware profiles (YAML in hardware_profiles/, or your own file)."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_profiles(as_json: bool) -> None:
    """Every shipped profile and host: cores, memory, accelerator, and whether this host can emulate it."""
    host = host_profile()
    rows: list[dict[str, Any]] = []
    for profile in all_profiles():
        verdict, reason = _emulation_line(profile, host)
        acc = profile.accelerator
        accelerator = "none" if acc.kind == "none" else f"{acc.kind}: {acc.name or '?'} ({describe(acc)})"
        rows.append(
            {
                "name": profile.name,
                "class": profile.device_class,
                "cores": profile.cores,
                "threads": profile.effective_threads,
                "memory_mb": profile.memory_mb,
                "accelerator": accelerator,
                "usd_per_hour": profile.cost.usd_per_hour,
                "here": verdict,
                "reason": reason,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Hardware profiles")
    for column in ("name", "class", "cores", "threads", "memory", "accelerator", "$/h", "on this host"):
        table.add_column(column, overflow="fold")
    for row in rows:
        memory, price = f"{float(row['memory_mb']) / 1024:.1f} GiB", f"{float(row['usd_per_hour']):g}"
        cells = (row["name"], row["class"], row["cores"], row["threads"], memory, row["accelerator"], price)
        table.add_row(*(terminal(cell) for cell in (*cells, f"{row['here']}: {row['reason']}")))
    Console().print(table)


@command.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show(name: str, as_json: bool) -> None:
    """The fully resolved profile NAME (a shipped name, host, or a YAML path), extends merged in."""
    profile = get_profile(name, flag="NAME")
    data = _drop_empty(profile.model_dump(mode="json", by_alias=True))
    verdict, reason = _emulation_line(profile, host_profile())
    data["on_this_host"] = {"verdict": verdict, "reason": reason}
    if profile.name == "host":
        # host's roofline is measured, not written down: every run measures it again in each cell
        from dataclasses import asdict

        from harness.meters.roofline import measure

        data["performance_measured"] = {k: round(v, 2) for k, v in asdict(measure(profile.cores)).items()}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip())
