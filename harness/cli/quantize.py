"""``tierbench quantize SOURCE --types ...``: derive quantized GGUF files into the cache, on their own."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness.cli.options import comma_list
from harness.ladder.cache import QuantCache
from harness.ladder.derive import derive_ladder, parse_types
from harness.safetext import terminal


@click.command("quantize")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--types", "types", required=True, help="Comma-separated target types, e.g. Q8_0,Q4_K_M,Q2_K.")
@click.option(
    "--allow-requantize",
    is_flag=True,
    help="Derive from an already-quantized source (the rungs are labelled 'requantized from ...').",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Cache directory (default: $TIERBENCH_CACHE_DIR or the user cache, ~/.cache/tierbench).",
)
def command(source: Path, types: str, allow_requantize: bool, cache_dir: Path | None) -> None:
    """Derive each type from SOURCE (a GGUF file) with llama.cpp's quantizer; reuse cached files.

    \b
    Example:
      tierbench quantize model-f16.gguf --types Q8_0,Q5_K_M,Q4_K_M,Q3_K_M,Q2_K
    """
    console = Console() if Console().is_terminal else Console(width=160)
    targets = parse_types(comma_list(types) or [], "--types")
    cache = QuantCache.open(cache_dir)
    rungs = derive_ladder(
        source, targets, allow_requantize=allow_requantize, cache=cache, log=lambda line: console.print(terminal(line))
    )
    table = Table("type", title=terminal(f"quantization ladder of {source.name}"), header_style="bold")
    table.add_column("bits/weight", justify="right")
    table.add_column("MiB", justify="right")
    table.add_column("from")
    table.add_column("file")
    for rung in rungs:
        table.add_row(
            rung.type.name,
            f"{rung.info.bits_per_weight:.2f}",
            f"{rung.info.size_mb:.0f}",
            terminal(rung.label().split(", ", 3)[-1]),
            terminal(f"{rung.path} ({rung.origin})"),
        )
    console.print(table)
