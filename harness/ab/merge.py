"""One side of an A/B job as one snapshot: its blocks' requests with the block pair of each (the
``repetition`` column, which the paired measure reads), the items every block scored (the same
items in every block, or the job is refused), and each numeric cell figure's median over blocks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.errors import UserError
from harness.results.snapshot import CELL_KEYS, Snapshot, from_run

Item = tuple[str, str, str]  # task, doc id, hash of the reference answer


def _item_set(items: pd.DataFrame) -> set[Item]:
    return {
        (str(t), str(d), str(h)) for t, d, h in zip(items["task"], items["doc_id"], items["target_hash"], strict=True)
    }


def _describe(items: set[Item]) -> str:
    shown = ", ".join(f"{task}#{doc}" for task, doc, _ in sorted(items)[:3])
    return shown + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def check_same_items(
    base: Snapshot, candidate: Snapshot, where: str, names: tuple[str, str] = ("baseline", "candidate")
) -> None:
    """The two sides scored the same items with the same reference answers; UserError naming the
    first differences otherwise (an A/B comparison of other items compares nothing). ``names`` are
    how the message calls ``base`` and ``candidate``."""
    base_items, candidate_items = _item_set(base.items), _item_set(candidate.items)
    only_base, only_candidate = base_items - candidate_items, candidate_items - base_items
    if not only_base and not only_candidate:
        return
    parts = []
    if only_candidate:
        parts.append(f"{len(only_candidate)} items only in the {names[1]} ({_describe(only_candidate)})")
    if only_base:
        parts.append(f"{len(only_base)} only in the {names[0]} ({_describe(only_base)})")
    raise UserError(
        f"{where}: the {names[1]} ran other items than the {names[0]} ({'; '.join(parts)}); "
        "the task data or the limit changed: save a new baseline"
    )


def merge_blocks(label: str, blocks: list[tuple[int, Path]]) -> Snapshot:
    """The snapshot of one side from its (pair, run directory) blocks."""
    if not blocks:
        raise ValueError("a side needs at least one block")
    snapshots = [(pair, from_run(path)) for pair, path in blocks]
    first = snapshots[0][1]
    for _, snapshot in snapshots[1:]:
        check_same_items(first, snapshot, f"{label} block {snapshot.source}", ("first block", "block"))
    cells = pd.concat([s.cells for _, s in snapshots], ignore_index=True)
    numeric = [c for c in cells.columns if c not in CELL_KEYS]
    # a cell that did not complete in one block did not complete: its status and reason stand
    worst_first = cells.assign(_ok=cells["status"] == "ok").sort_values("_ok", kind="stable")
    keys = worst_first.drop_duplicates(["model", "profile"])[CELL_KEYS].reset_index(drop=True)
    medians = cells.groupby(["model", "profile"], sort=False)[numeric].median().reset_index()
    merged_cells = keys.merge(medians, on=["model", "profile"], how="left")
    return Snapshot(
        source=f"{label} ({len(blocks)} blocks)",
        meta=first.meta,
        cells=merged_cells,
        items=first.items,
        requests=pd.concat([s.requests.assign(repetition=pair) for pair, s in snapshots], ignore_index=True),
    )
