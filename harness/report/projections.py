"""Projected figures in their own rows, never mixed into measured ones; where nothing ran on a profile, the
recommendation weighs a stand-in cell ``projected from host`` so every profile gets an answer (an emulated
cell, being measured, wins over its projection)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from harness.projection import BUSY_EFFICIENCY
from harness.report.cellview import CellView, Estimate, fit_verdict
from harness.report.formatting import clean, row_fields, text
from harness.report.metrics import COST, ENERGY, MEMORY, P95_E2E, P95_TTFT
from harness.results.columns import range_columns
from harness.results.schema import PROJECTED


@dataclass(frozen=True)
class ProjectionRow:
    """One projected (model, profile, scenario point), or why the pair was not projected."""

    model: str
    tier: str
    profile: str
    projected_from: str
    status: str
    reason: str
    not_emulated_reason: str
    emulated_on: str
    point: str
    compute_target: str
    numbers: dict[str, float | None]
    fit: str
    fit_reason: str
    basis: str
    host_disturbed: bool = False

    @property
    def projected(self) -> bool:
        return self.status == PROJECTED

    def range(self, key: str) -> Estimate:
        """The figure ``key`` with its low/high ends."""
        value, low, high = (self.numbers.get(k) for k in range_columns(key))
        if value is None and low is not None and high is not None:
            value = (low + high) / 2
        if value is None:
            return Estimate(None, missing=self.reason or "not projected")
        return Estimate(value, low, high)


def projection_rows(frame: pd.DataFrame) -> list[ProjectionRow]:
    """The projections table as report rows (empty for runs made before projections existed)."""
    rows: list[ProjectionRow] = []
    for r in frame.to_dict("records"):
        row = row_fields(ProjectionRow, r)
        row["projected_from"] = row["projected_from"] or "host"
        row["point"] = " ".join(p for p in (text(r.get("scenario")), row["point"]) if p)
        # every other column read as a number: None where it is missing or not a number
        numbers = {str(k): clean(v) for k, v in r.items() if k not in row and k not in ("scenario", "host_disturbed")}
        rows.append(ProjectionRow(**row, numbers=numbers, host_disturbed=r.get("host_disturbed") in (True, 1)))
    return rows


def _worst(rows: Sequence[ProjectionRow], key: str) -> Estimate:
    """The slowest point's range: a recommendation must hold at every point the suite measured."""
    known = [r.range(key) for r in rows if r.range(key).known]
    return max(known, key=lambda e: e.value or 0.0, default=Estimate(None, missing="not projected"))


def projected_cell(source: CellView, rows: Sequence[ProjectionRow]) -> CellView:
    """A stand-in cell for the recommendation: latency, energy and cost projected; accuracy and memory measured on host."""
    first = rows[0]
    metrics: dict[str, Estimate] = {
        **source.metrics,  # accuracy: same file, same answers
        P95_E2E.key: _worst(rows, "e2e_p95_s"),
        P95_TTFT.key: _worst(rows, "ttft_p95_s"),
        MEMORY.key: source.get(MEMORY.key),  # the measured working set
        ENERGY.key: _worst(rows, "energy_per_request_j"),
        COST.key: _worst(rows, "cost_per_1k_requests_usd"),
    }
    return replace(
        source,
        profile=first.profile,
        status=PROJECTED,
        reason=f"projected from {first.projected_from}: {first.reason}",
        emulated_on="",
        energy_source="estimate",
        metrics=metrics,
        fit=fit_verdict(first.fit),
        fit_reason=first.fit_reason,
        cost_basis=f"projected: {first.basis}",
        projected_from=first.projected_from,
    )


def recommendation_cells(cells: Sequence[CellView], projections: Sequence[ProjectionRow]) -> list[CellView]:
    """The cells the recommendation weighs: measured ones, and a projected one where nothing ran on the profile."""
    out: list[CellView] = []
    for cell in cells:
        rows = [p for p in projections if p.projected and p.model == cell.model and p.profile == cell.profile]
        source = next(
            (c for c in cells if rows and c.model == cell.model and c.profile == rows[0].projected_from), None
        )
        out.append(projected_cell(source, rows) if not cell.ran and source is not None and source.ran else cell)
    return out


def caveats(projections: Sequence[ProjectionRow]) -> list[str]:
    """Lines for the report's caveats: what a projection is, and when the host looked busy."""
    notes: list[str] = []
    for profile in dict.fromkeys(p.profile for p in projections if p.projected):
        first = next(p for p in projections if p.projected and p.profile == profile)
        low, high = first.numbers.get("band_low"), first.numbers.get("band_high")
        notes.append(
            f"{profile}: latency, energy and cost are projected from host onto its roofline "
            f"({first.compute_target}; the range spans the roofline and the one-core transfers and "
            f"×{low:g}–×{high:g} around their centre: {first.reason}); not measured on the device."
            if low is not None and high is not None
            else f"{profile}: figures are projected from host, not measured on the device."
        )
    # the host measurement's health, said once: on the first projected profile
    first_profile = next((p.profile for p in projections if p.projected), "")
    for p in (p for p in projections if p.projected and p.profile == first_profile):
        efficiency = p.numbers.get("decode_efficiency")
        if p.host_disturbed:
            notes.append(
                f"While {p.model} ran on host, its threads together moved less memory than one thread alone: "
                "other processes held the cores, so the host measurement, and every projection from it, is disturbed."
            )
        elif efficiency is not None and efficiency < BUSY_EFFICIENCY:
            notes.append(
                f"{p.model} decoded on host at {efficiency:.0%} of the host's own memory roofline: a busy host "
                "(llama.cpp threads waiting on a core another process holds) makes every projection from it pessimistic."
            )
    return notes
