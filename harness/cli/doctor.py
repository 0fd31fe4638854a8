"""``tierbench doctor``: which sensors and memory counters this machine has, and why the others are missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness.backends.registry import check_model, get_plugin
from harness.catalog import load_catalog
from harness.config.models import Catalog
from harness.errors import BackendUnavailable, ConfigError
from harness.hardware import host_profile
from harness.meters.doctor import Capability, diagnose
from harness.meters.host import fingerprint
from harness.meters.rapl import POWERCAP
from harness.safetext import terminal


def native_capabilities(catalog: Catalog) -> list[Capability]:
    """Per local model whose native code may crash on some CPUs: does it run here with its fast kernels,
    only without them, or not at all (the canary's verdict, run now or read from the cache)."""
    from harness.backends.canary import OK, check

    found: list[Capability] = []
    for spec in catalog.models:
        try:
            plugin = get_plugin(spec.backend)
        except (BackendUnavailable, ConfigError):
            continue
        if plugin.guard is None or check_model(spec) is not None:
            continue
        verdict = check(plugin, spec, plugin.params(spec))
        guard = plugin.guard
        if verdict.fast == OK:
            detail = f"works, {guard.disabled} on"
        elif verdict.safe == OK:
            detail = f"works only without {guard.disabled}: they crash here ({verdict.fast}); runs turn them off"
        elif verdict.safe is None:
            detail = f"could not be checked: {verdict.fast}"
        else:
            detail = f"crashes ({verdict.fast}; without {guard.disabled}: {verdict.safe}); {guard.advice}"
        available = OK in (verdict.fast, verdict.safe)
        cached = " (cached verdict)" if verdict.cached else ""
        found.append(Capability("native code", f"{spec.name} ({plugin.name})", available, detail + cached))
    return found


def llama_build_capability(host: dict[str, Any]) -> Capability:
    """The llama.cpp build's own feature list (AMX, AVX-512...) and this CPU's kernel-relevant flags, side by side."""
    build = host["llama_cpp"]
    if not build:
        return Capability("native code", "llama.cpp build", False, "llama-cpp-python is not installed")
    features = build.get("system_info", "unknown")
    cpu = " ".join(host.get("cpu_flags", [])) or "none found"
    return Capability(
        "native code", "llama.cpp build", True, f"llama-cpp-python {build.get('version')}: {features}; CPU flags: {cpu}"
    )


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of tables.")
@click.option(
    "--powercap-root",
    type=click.Path(path_type=Path),
    default=POWERCAP,
    show_default=True,
    help="Where to look for RAPL counters (for containers that mount sysfs elsewhere).",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path),
    help="Also check the local models of this catalog YAML (merged over the default).",
)
def command(as_json: bool, powercap_root: Path, catalog_path: Path | None) -> None:
    """Say which energy sensors, memory counters and native kernels work here, and why the others do not."""
    from dataclasses import asdict

    host = fingerprint().model_dump(mode="json")
    found = diagnose(host_profile(), powercap_root)
    found += [llama_build_capability(host), *native_capabilities(load_catalog(catalog_path))]
    sensors = [c.name for c in found if c.group == "energy" and c.available and c.name != "estimate"]
    source = "+".join(sensors) or "estimate"
    if as_json:
        click.echo(
            json.dumps({"energy_source": source, "capabilities": list(map(asdict, found)), "host": host}, indent=2)
        )
        return
    console = Console()
    table = Table(title="Measurement support on this machine")
    for column in ("group", "name", "available", "detail"):
        table.add_column(column, overflow="fold")
    for cap in found:
        mark = "[green]yes[/green]" if cap.available else "[red]no[/red]"
        # a detail quotes what a sensor file held, and a host's names are its owner's: text, not markup
        table.add_row(terminal(cap.group), terminal(cap.name), mark, terminal(cap.detail))
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
