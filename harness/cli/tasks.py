"""``tierbench tasks``: the built-in and benchmark tasks, their metrics and item counts."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.evaluation import list_tasks, resolve_data_dir
from harness.safetext import terminal


@click.group("tasks")
def command() -> None:
    """List the accuracy tasks that 'tierbench run --tasks' accepts."""


@command.command("list")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Local benchmark directory (default: $TIERBENCH_DATA_DIR); benchmark item counts need it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_command(data_dir: Path | None, as_json: bool) -> None:
    """Every task with its kind, metrics and item count ('-' where the data is not at hand)."""
    infos = list_tasks(resolve_data_dir(data_dir))
    if as_json:
        click.echo(json.dumps([asdict(info) for info in infos], indent=2))
        return
    table = Table("task", "kind", "metrics", "items", "type", "description")
    for info in infos:
        items = "-" if info.items is None else str(info.items)
        cells = (info.name, info.kind, ", ".join(info.metrics), items, info.output_type, info.description)
        table.add_row(*(terminal(cell) for cell in cells))
    Console(width=200).print(table)
