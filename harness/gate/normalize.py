"""Timings scaled by the run's own host calibration (a rule's ``normalize: roofline``).

A timing is multiplied by the cell's measured roofline (harness/meters/roofline.py), a throughput
divided by it: TTFT and prefill by compute (GFLOP/s), decode-bound figures by bandwidth (GB/s). Two
machines that differ only in speed then agree; what the roofline cannot see (cache sizes, better or
worse kernels) stays in the figure, which is why the raw figures are shown beside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from harness.config.rules import MetricInfo
from harness.results.columns import range_columns
from harness.results.measure import cell_rows
from harness.results.snapshot import Snapshot
from harness.results.values import finite_or_none

COMPUTE_BOUND = ("ttft_s", "prefill_tps")


def calibration_column(info: MetricInfo) -> str:
    return "roofline_gflops" if info.column in COMPUTE_BOUND else "roofline_bandwidth_gbs"


@dataclass(frozen=True)
class Normalized:
    """A snapshot whose figures for one cell are normalised, and the factor used."""

    snapshot: Snapshot
    factor: float


def normalize_cell(info: MetricInfo, snapshot: Snapshot, model: str, profile: str) -> Normalized | str:
    """``snapshot`` with ``info``'s figure of the cell (model, profile) normalised, or why it cannot be."""
    column = calibration_column(info)
    row = cell_rows(snapshot.cells, model, profile)
    factor = finite_or_none(row.iloc[0].get(column)) if not row.empty and column in row.columns else None
    if factor is None or factor <= 0:
        return f"{snapshot.source} has no {column} for {model}@{profile} (its roofline was not measured)"
    # a time shrinks on a faster machine, a rate grows: scale each so the machine's speed cancels
    scale = factor if info.direction == "lower" else 1 / factor
    table = "requests" if info.source == "requests" else "cells"
    frame = getattr(snapshot, table).copy()
    selected = (frame["model"].astype(str) == model) & (frame["profile"].astype(str) == profile)
    columns = [info.column] if table == "requests" else [c for c in range_columns(info.column) if c in frame.columns]
    for name in columns:
        frame.loc[selected, name] = pd.to_numeric(frame.loc[selected, name]) * scale
    return Normalized(replace(snapshot, **{table: frame}), factor)


def factor_text(info: MetricInfo, run: float, base: float) -> str:
    unit = "GFLOP/s" if info.column in COMPUTE_BOUND else "GB/s"
    ratio = run / base if base else math.inf
    return f"normalised by each run's roofline ({calibration_column(info)}): run {run:.3g} {unit}, baseline {base:.3g} {unit} (x{ratio:.2f})"
