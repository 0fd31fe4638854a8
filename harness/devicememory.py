"""GPU memory in one unit, MiB: a datasheet's "80 GB" against the total a card reports.

A datasheet figure is read as GiB (vendors' GB of HBM and GDDR), and a card matches it when it reports
at least ``1 - DATASHEET_TOLERANCE`` of that: the driver keeps some (an "80 GB" H100 reports 81,559 of
81,920 MiB) and ECC on GDDR takes 1/16 (a "16 GB" T4 reports 15,360 MiB). docs/profiles.md states the rule.
"""

from __future__ import annotations

from harness.config.profile import Accelerator

MIB_PER_GIB = 1024.0
# the most a card may report below its datasheet figure and still count as that card: ECC on GDDR
# memory reserves 1/16 (6.25 %); an H100's driver keeps 0.44 % of its 80 GiB
DATASHEET_TOLERANCE = 0.07


def nominal_mib(memory_gb: float) -> float:
    """A datasheet "N GB" of device memory, in MiB (vendors' "GB" of HBM and GDDR are GiB)."""
    return memory_gb * MIB_PER_GIB


def total_mib(accelerator: Accelerator) -> float | None:
    """What the accelerator has, MiB: the total the card reported, else its datasheet figure."""
    if accelerator.memory_mb is not None:
        return accelerator.memory_mb
    return None if accelerator.memory_gb is None else nominal_mib(accelerator.memory_gb)


def mib(value: float) -> str:
    """A MiB figure as the messages print it: ``81,559 MiB``."""
    return f"{value:,.0f} MiB"


def describe(accelerator: Accelerator) -> str:
    """``80 GB (81,920 MiB)`` for a datasheet figure, ``81,559 MiB`` for a reported one."""
    if accelerator.memory_mb is not None:
        return mib(accelerator.memory_mb)
    if accelerator.memory_gb is None:
        return "unknown memory"
    return f"{accelerator.memory_gb:g} GB ({mib(nominal_mib(accelerator.memory_gb))})"


def memory_shortfall(wanted: Accelerator, have: Accelerator) -> str | None:
    """Why ``have`` has too little memory to stand in for ``wanted`` (None: enough), in MiB; a card must report
    a MiB figure exactly, a datasheet one less the tolerance."""
    if (need := total_mib(wanted)) is None:
        return None
    if wanted.memory_mb is None:
        need *= 1 - DATASHEET_TOLERANCE
    got = total_mib(have) or 0.0
    if got >= need:
        return None
    tolerance = (
        "" if wanted.memory_mb is not None else f" (at least {mib(need)} reported: {DATASHEET_TOLERANCE:.0%} tolerance)"
    )
    return f"needs {describe(wanted)}{tolerance} of {wanted.kind} memory; this host's {have.name} has {mib(got)}"
