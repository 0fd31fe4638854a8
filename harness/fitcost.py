"""Fit and cost per model × profile, from the measured tables.

A cell *fits* when its weights plus measured working memory (peak anonymous memory: KV cache,
buffers, runtime) stay within the profile's budget; a cell that ran on a GPU is judged by its GPU
memory (``harness.results.memoryfigure``) against the profile's. A cell the watchdog stopped does
not fit; one that could not run here gets a verdict estimated from a cell of the same model, and
says so. A local model costs the profile's hourly price times machine time per request plus its
energy at the electricity price; an API model the catalog's list price per token (fresh input,
cached input, output, reasoning billed as output). Per 1M tokens means per million *output* tokens.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

import pandas as pd

from harness.config.models import ModelSpec
from harness.config.profile import HardwareProfile
from harness.devicememory import MIB_PER_GIB, total_mib
from harness.results.columns import COST_COLUMNS, COST_SPLIT_COLUMNS, FITCOST_COLUMNS, range_columns
from harness.results.memoryfigure import judged_memory
from harness.results.values import finite_or_none as _num
from harness.results.values import measured_requests

J_PER_KWH = 3.6e6

TEXT_COLUMNS = ("fit", "fit_reason", "cost_basis")


def _gb(mb: float) -> str:
    return f"{mb / MIB_PER_GIB:.2f} GB"


def _against(need: float, budget: float) -> tuple[str, str]:
    """(verdict, sign) of a memory figure against a budget: ``fits`` with ≤, else ``does_not_fit`` with >."""
    return ("fits", "≤") if need <= budget else ("does_not_fit", ">")


@dataclass
class RequestStats:
    """A cell's measured, successful, non-warm-up requests."""

    n: int
    seconds_per_request: float
    prompt_tokens: float
    output_tokens: float  # reasoning tokens included
    e2e_by_point: dict[tuple[str, str], float]
    reasoning_tokens: float = 0.0
    cached_tokens: float = 0.0


def _mean_count(group: pd.DataFrame, column: str) -> float:
    """Mean of a token count column; a missing count (or column) counts as 0."""
    return float(group[column].fillna(0).astype(float).mean()) if column in group.columns else 0.0


def request_stats(requests: pd.DataFrame) -> dict[str, RequestStats]:
    """Per cell: machine seconds per request (E2E / concurrency), mean token counts, E2E per point."""
    if requests.empty or "cell_id" not in requests.columns or "e2e_s" not in requests.columns:
        return {}
    measured = measured_requests(requests)
    measured = measured[measured["e2e_s"].notna()]
    stats: dict[str, RequestStats] = {}
    for cell_id, group in measured.groupby("cell_id", sort=False):
        busy = group["e2e_s"].astype(float)
        if "concurrency" in group.columns:  # a request shares the machine with its concurrent ones
            busy = busy / group["concurrency"].fillna(1).astype(float).clip(lower=1)
        by_point: dict[tuple[str, str], float] = {}
        if {"scenario", "point"} <= set(group.columns):
            for (scenario, point), part in group.groupby(["scenario", "point"], sort=False):
                by_point[(str(scenario), str(point))] = float(part["e2e_s"].astype(float).mean())
        counts = {
            c: _mean_count(group, c) for c in ("prompt_tokens", "output_tokens", "reasoning_tokens", "cached_tokens")
        }
        stats[str(cell_id)] = RequestStats(len(group), float(busy.mean()), e2e_by_point=by_point, **counts)
    return stats


def _memory_need(row: dict[str, Any]) -> tuple[float, float] | None:
    """(weights MiB, working MiB) measured in a cell that ran, or None."""
    weights = _num(row.get("model_file_mb"))
    working = _num(row.get("peak_anon_mb"))
    if row.get("status") != "ok" or weights is None or working is None:
        return None
    return weights, working


def gpu_fit_verdict(
    row: dict[str, Any], gpu_budget_mb: float | None, suffix: str = ""
) -> tuple[str, str, float | None] | None:
    """(fit, reason, required MiB) of a cell that ran on a GPU, judged by GPU memory; None for a CPU cell."""
    figure = judged_memory(row)
    if row.get("status") != "ok" or not figure.on_gpu or figure.mb is None:
        return None
    rss = "" if figure.host_rss_mb is None else f"; host RSS {_gb(figure.host_rss_mb)} beside it"
    if gpu_budget_mb is None:
        return (
            "unknown",
            f"ran on a GPU ({figure.label} {_gb(figure.mb)}); the profile has no GPU memory{rss}{suffix}",
            figure.mb,
        )
    verdict, sign = _against(figure.mb, gpu_budget_mb)
    reason = f"{figure.label} {_gb(figure.mb)} {sign} {_gb(gpu_budget_mb)} GPU memory{rss}{suffix}"
    return verdict, reason, figure.mb


def fit_verdict(
    row: dict[str, Any],
    budget_mb: float | None,
    reference: dict[str, Any] | None,
    gpu_budget_mb: float | None = None,
) -> tuple[str, str, float | None]:
    """(fit, reason, required MiB) for one cell; ``reference``: a cell of the same model that ran;
    ``gpu_budget_mb``: the profile's GPU memory, which judges a cell that ran on a GPU."""
    status = row.get("status")
    if status == "does_not_fit":
        peak = _num(row.get("peak_rss_mb"))
        return "does_not_fit", str(row.get("reason") or "stopped over the memory budget"), peak
    on_gpu = gpu_fit_verdict(row, gpu_budget_mb)
    if on_gpu is not None:
        return on_gpu
    if status != "ok" and reference is not None and gpu_budget_mb is not None:
        estimated = gpu_fit_verdict(
            reference, gpu_budget_mb, f" (estimated from {reference.get('cell_id')}; not run on this profile)"
        )
        if estimated is not None:
            return estimated
    if budget_mb is None:
        return "unknown", "the profile has no memory budget", None
    need = _memory_need(row)
    suffix = ""
    if need is None and status == "ok" and _num(row.get("model_file_mb")) is None:
        peak = _num(row.get("peak_rss_mb"))
        if peak is None:
            return "unknown", "no memory measurement", None
        verdict, sign = _against(peak, budget_mb)
        return verdict, f"remote model: client process peak {_gb(peak)} {sign} {_gb(budget_mb)} budget", peak
    if need is None and reference is not None:
        need = _memory_need(reference)
        suffix = f" (estimated from {reference.get('cell_id')}; not run on this profile)"
    if need is None:
        why = str(row.get("reason") or status or "not run")
        return "unknown", f"no memory measurement for this model: {why}", None
    weights, working = need
    total = weights + working
    verdict, sign = _against(total, budget_mb)
    reason = f"weights {_gb(weights)} + working {_gb(working)} = {_gb(total)} {sign} {_gb(budget_mb)} budget{suffix}"
    return verdict, reason, total


def _reference_cell(row: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A cell of the same model that ran here, ``host`` first."""
    same = [
        r
        for r in rows
        if r.get("model") == row.get("model") and (_memory_need(r) is not None or judged_memory(r).on_gpu)
    ]
    return min(same, key=lambda r: r.get("profile") != "host", default=None)


def cost_figures(
    row: dict[str, Any], stats: RequestStats | None, profile: HardwareProfile | None, model: ModelSpec | None
) -> dict[str, Any]:
    """Cost and energy per request / per 1M output tokens for a cell that ran."""
    out: dict[str, Any] = dict.fromkeys(COST_COLUMNS)
    if row.get("status") != "ok" or stats is None or stats.n == 0:
        return out
    out["seconds_per_request"] = stats.seconds_per_request
    per_token = stats.output_tokens if stats.output_tokens > 0 else None
    if model is not None and model.prices is not None:
        split = model.prices.split(
            stats.prompt_tokens, stats.output_tokens, stats.reasoning_tokens, stats.cached_tokens
        )
        out.update({column: 1000 * part for column, part in zip(COST_SPLIT_COLUMNS, astuple(split), strict=True)})
        out["cost_basis"] = "api list price" + (f" ({model.prices.source})" if model.prices.source else "")
        price = split.total_usd
    elif profile is None:
        return out
    else:
        energy_j, duration = _num(row.get("energy_j")), _num(row.get("duration_s"))
        energy_cost = 0.0
        if energy_j is not None and duration:
            # the energy and its interval, per request
            for total, per_request in zip(
                range_columns("energy_j"), range_columns("energy_per_request_j"), strict=True
            ):
                if (joules := _num(row.get(total))) is not None:
                    out[per_request] = joules / duration * stats.seconds_per_request
            energy_cost = out["energy_per_request_j"] / J_PER_KWH * profile.cost.usd_per_kwh
            out["energy_cost_per_1k_requests_usd"] = 1000 * energy_cost
            out["energy_per_token_j"] = out["energy_per_request_j"] / per_token if per_token else None
        out["cost_basis"] = f"profile ${profile.cost.usd_per_hour:g}/h × measured time" + (
            f" + energy × ${profile.cost.usd_per_kwh:g}/kWh" if energy_j is not None else ""
        )
        price = profile.cost.usd_per_hour * stats.seconds_per_request / 3600 + energy_cost
    out["cost_per_1k_requests_usd"] = 1000 * price
    out["cost_per_mtok_usd"] = price / per_token * 1e6 if per_token else None
    return out


def slowdown(emulated: RequestStats | None, host: RequestStats | None) -> float | None:
    """How many times longer the emulated cell's requests took than the same points on host."""
    if emulated is None or host is None:
        return None
    shared = [key for key in emulated.e2e_by_point if key in host.e2e_by_point]
    if not shared:
        return None
    host_total = sum(host.e2e_by_point[key] for key in shared)
    if host_total <= 0:
        return None
    return sum(emulated.e2e_by_point[key] for key in shared) / host_total


def enrich_cells(
    cells: pd.DataFrame,
    requests: pd.DataFrame,
    profiles: dict[str, HardwareProfile],
    models: dict[str, ModelSpec],
) -> pd.DataFrame:
    """The cells table with fit, cost, energy-per-request and slowdown columns added."""
    out = cells.copy()
    rows = [{str(k): v for k, v in r.items()} for r in cells.to_dict("records")]
    stats = request_stats(requests)
    host_cells = {r.get("model"): str(r.get("cell_id")) for r in rows if r.get("profile") == "host"}
    added: list[dict[str, Any]] = []
    for row in rows:
        profile = profiles.get(str(row.get("profile")))
        model = models.get(str(row.get("model")))
        budget = _num(row.get("memory_budget_mb"))
        if budget is None and profile is not None:
            budget = profile.memory_mb
        reference = _reference_cell(row, rows)
        gpu_budget = (
            total_mib(profile.accelerator) if profile is not None and profile.accelerator.kind == "gpu" else None
        )
        fit, reason, required = fit_verdict(row, budget, reference, gpu_budget)
        cell_stats = stats.get(str(row.get("cell_id")))
        extra: dict[str, Any] = {"fit": fit, "fit_reason": reason, "fit_required_mb": required}
        extra |= cost_figures(row, cell_stats, profile, model)
        host_id = host_cells.get(row.get("model"))
        emulated = row.get("emulated_on") not in (None, "") and not pd.isna(row.get("emulated_on"))
        extra["slowdown_vs_host"] = (
            slowdown(cell_stats, stats.get(host_id)) if emulated and host_id and row.get("status") == "ok" else None
        )
        added.append(extra)
    for column in FITCOST_COLUMNS:
        values = [extra.get(column) for extra in added]
        out[column] = pd.Series(values, index=out.index, dtype="object" if column in TEXT_COLUMNS else "float64")
    return out
