"""The order of an A/B job's blocks: A B, then B A, alternating, so that a slow drift (clock speed,
heat, a neighbour arriving) favours neither side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SideName = Literal["baseline", "candidate"]


@dataclass(frozen=True)
class Block:
    """One short run of one side: its position in the job and the pair it belongs to."""

    position: int  # 1-based order in the job
    pair: int  # 0-based; pair k holds the k-th block of each side
    side: SideName

    @property
    def dirname(self) -> str:
        return f"{self.position:02d}-{self.side}"


def interleave(pairs: int) -> list[Block]:
    """``pairs`` blocks per side as A B B A A B ...: even pairs start with the baseline, odd ones with the candidate."""
    if pairs < 1:
        raise ValueError("at least one block per side")
    ab: tuple[SideName, SideName] = ("baseline", "candidate")
    order = [(pair, side) for pair in range(pairs) for side in (ab if pair % 2 == 0 else ab[::-1])]
    return [Block(position, pair, side) for position, (pair, side) in enumerate(order, start=1)]
