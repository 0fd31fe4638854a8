"""``tierbench baseline``: store what the gate needs from a run in one compact file."""

from __future__ import annotations

from pathlib import Path

import click

from harness.safetext import one_line


@click.group("baseline")
def command() -> None:
    """Save and inspect gate baselines."""


@command.command("save")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option(
    "--to", "to", required=True, type=click.Path(path_type=Path), help="Baseline file to write (e.g. baseline.json.gz)."
)
def save_command(run_dir: Path, to: Path) -> None:
    """Write the baseline of RUN: per-item outcomes, latency samples, cell figures and metadata."""
    from harness.gate.baseline import save

    snapshot = save(run_dir, to)
    click.echo(
        f"saved baseline {one_line(to)} ({to.stat().st_size / 1024:.1f} KiB): {len(snapshot.cells)} cells, "
        f"{len(snapshot.items)} items, {len(snapshot.requests)} requests"
    )


@command.command("show")
@click.argument("path", type=click.Path(path_type=Path))
def show_command(path: Path) -> None:
    """Check a baseline file and list what it holds."""
    from harness.gate.baseline import load
    from harness.gate.hardware import SPEED_FIELDS, describe
    from harness.meters.host import HostFingerprint
    from harness.results.measure import cell_rows

    snapshot = load(path)
    click.echo(
        f"{one_line(path)}: valid tierbench baseline from {one_line(snapshot.meta.get('run_id', snapshot.source))}"
    )
    host = HostFingerprint.read(snapshot.meta.get("host"))
    missing = [label for name, label in SPEED_FIELDS.items() if name not in host.model_fields_set]
    unknown = f" (not recorded: {', '.join(missing)}; speed rules will be not comparable)" if missing else ""
    click.echo(one_line(f"  measured on: {describe(host)}{unknown}"))
    for _, row in snapshot.cells.iterrows():
        model, profile = str(row["model"]), str(row["profile"])
        items, requests = cell_rows(snapshot.items, model, profile), cell_rows(snapshot.requests, model, profile)
        tasks = ", ".join(sorted(set(items["task"].astype(str)))) or "no tasks"
        line = f"  {row['tier']}: {model}@{profile} ({row['status']}): {len(items)} items ({tasks}), {len(requests)} requests"
        click.echo(one_line(line))
