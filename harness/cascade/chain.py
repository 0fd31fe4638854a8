"""Which cells a cascade chain names: ``nano,mini`` or ``nano@edge-1c-1gb,mini@host``.

A chain step is one (model, profile) cell that ran. Names match a cell's model first, then its
tier, so ``--chain nano,mini`` works whether the catalog calls its models by tier or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.config.models import TIER_ORDER
from harness.errors import UserError
from harness.results.rows import row_fields
from harness.results.values import finite_or_none, text

RAN = ("ok", "partial")
LOCAL_BACKENDS = ("llamacpp", "transformers")
CASCADE_BACKEND = "cascade"


@dataclass(frozen=True)
class Step:
    """One tier of a chain: the cell it reads and that cell's measured per-request figures."""

    model: str
    profile: str
    cell_id: str
    tier: str
    backend: str
    cost_per_request_usd: float | None
    energy_per_request_j: float | None
    seconds_per_request: float | None
    energy_source: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.profile)


def _step(row: dict[str, Any]) -> Step:
    """A cells-table row as a chain tier: its cost per request from the cost per 1k, no energy source read as none."""
    fields = row_fields(Step, row)
    cost = finite_or_none(row.get("cost_per_1k_requests_usd"))
    fields["cost_per_request_usd"] = None if cost is None else cost / 1000.0
    return Step(**{**fields, "energy_source": fields["energy_source"] or "none"})


def parse_chain(spec: str) -> list[tuple[str, str | None]]:
    """``"nano@edge,mini"`` -> ``[("nano", "edge"), ("mini", None)]``; one-line errors for malformed specs.

    The profile follows the last ``@``; ``resolve_chain`` reads ``mini@high`` as a variant's name when the run has one."""
    steps: list[tuple[str, str | None]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, profile = part.rpartition("@") if "@" in part else (part, "", "")  # a variant: mini@high@edge
        if not name.strip() or ("@" in part and not profile.strip()):
            raise UserError(f"--chain {spec!r}: {part!r} is not TIER or TIER@PROFILE")
        steps.append((name.strip(), profile.strip() or None))
    if len(steps) < 2:
        raise UserError(f"--chain {spec!r}: a cascade needs at least two tiers, e.g. --chain nano,mini")
    if len(set(steps)) != len(steps):
        raise UserError(f"--chain {spec!r}: names the same tier twice")
    return steps


def cell_rows(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """The cells table as one dict per row (the fields a chain step is read from)."""
    return [dict(zip(cells.columns, row, strict=True)) for row in cells.itertuples(index=False, name=None)]


def resolve_chain(steps: list[tuple[str, str | None]], cells: pd.DataFrame, profile: str | None = None) -> list[Step]:
    """The cells a parsed chain names; a tier that did not run (or is ambiguous) is a one-line error."""
    rows = cell_rows(cells)
    resolved: list[Step] = []
    run_models = {text(r.get("model")) for r in rows}
    for name, wanted in steps:
        if wanted is not None and f"{name}@{wanted}" in run_models:  # a variant's name (mini@high), not TIER@PROFILE
            name, wanted = f"{name}@{wanted}", None
        mine = [r for r in rows if text(r.get("model")) == name] or [r for r in rows if text(r.get("tier")) == name]
        if not mine:
            known = ", ".join(sorted({text(r.get("model")) for r in rows})) or "none"
            raise UserError(f"--chain: tier {name!r} is not in this run (its models: {known}); run it first")
        where = wanted or profile
        if where is not None:
            on = [r for r in mine if text(r.get("profile")) == where]
            if not on:
                ran_on = ", ".join(sorted({text(r.get("profile")) for r in mine}))
                raise UserError(f"--chain: {name} did not run on profile {where!r} (it ran on: {ran_on})")
            mine = on
        models = sorted({text(r.get("model")) for r in mine})
        if len(models) > 1:
            raise UserError(f"--chain: tier {name!r} matches several models ({', '.join(models)}); name the model")
        if len(mine) > 1:
            on_list = ", ".join(sorted(text(r.get("profile")) for r in mine))
            raise UserError(
                f"--chain: {name} ran on several profiles ({on_list}); write {name}@PROFILE or pass --profile"
            )
        row = mine[0]
        status = text(row.get("status")) or "ok"
        if status not in RAN:
            why = text(row.get("reason")) or "no reason recorded"
            raise UserError(f"--chain: tier {name} did not run on {text(row.get('profile'))} ({status}: {why})")
        resolved.append(_step(row))
    if len({s.key for s in resolved}) != len(resolved):
        raise UserError("--chain: two names resolve to the same cell; name each tier once")
    return resolved


def default_chain(cells: pd.DataFrame, profile: str | None = None) -> list[Step]:
    """The run's local tiers that ran, cheapest first (tier order where a cost is missing), on one profile."""
    rows = [r for r in cell_rows(cells) if (text(r.get("status")) or "ok") in RAN]
    rows = [r for r in rows if text(r.get("backend")) in LOCAL_BACKENDS]
    profiles = list(dict.fromkeys(text(r.get("profile")) for r in rows))
    chosen = profile if profile is not None else ("host" if "host" in profiles else (profiles[0] if profiles else None))
    steps = [_step(r) for r in rows if text(r.get("profile")) == chosen]

    def order(step: Step) -> tuple[float, int, str]:
        cost = step.cost_per_request_usd
        return (cost if cost is not None else float("inf"), TIER_ORDER.get(step.tier, 9), step.model)

    return sorted(steps, key=order)


def chain_text(steps: list[Step]) -> str:
    """``nano → mini`` (with ``@profile`` where the chain spans several profiles)."""
    several = len({s.profile for s in steps}) > 1
    return " → ".join(f"{s.model}@{s.profile}" if several else s.model for s in steps)
