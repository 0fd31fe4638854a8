"""The report's figures per cell, computed from the run's tables: accuracy with its combined interval, p95
latency with its bootstrap interval (harness.stats), memory, energy, cost, and the per-point latency rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.config.models import TIER_ORDER
from harness.metrics import REQUEST_COLUMNS
from harness.report.cellview import STATUS_WHY, CellView, Estimate, LatencyRow, TaskScore, fit_verdict
from harness.report.formatting import clean, row_fields, text
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, P95_E2E, P95_TTFT, primary_metric
from harness.results.columns import CELL_COLUMNS, range_columns
from harness.results.measure import cell_rows
from harness.results.memoryfigure import MemoryFigure, judged_memory
from harness.results.values import error_mask, warmup_mask
from harness.stats import mean_of_scores, score_standard_error, statistic_interval, summarize


def _missing(cell: dict[str, Any], why: str) -> Estimate:
    """A missing figure: a cell that did not run says so before any other reason."""
    return Estimate(None, missing=STATUS_WHY.get(cell["status"], why))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False, name=None)]


def score_rows(scores: pd.DataFrame, tiers: dict[str, str]) -> list[TaskScore]:
    rows: list[TaskScore] = []
    if scores.empty:
        return rows
    primaries: dict[tuple[str, str, str], str | None] = {}
    for (model, profile, task), group in scores.groupby(["model", "profile", "task"], sort=False):
        ok = group[group["status"] == "ok"]["metric"].map(text).tolist()
        primaries[(str(model), str(profile), str(task))] = primary_metric(ok or group["metric"].map(text).tolist())
    for r in records(scores):
        row = row_fields(TaskScore, r)  # the text fields and value, stderr, ci_low, ci_high
        key = (row["model"], row["profile"], row["task"])
        row.update(tier=tiers.get(key[0], ""), status=row["status"] or "ok")
        n = clean(r.get("n"))
        rows.append(TaskScore(**row, n=None if n is None else int(n), primary=primaries.get(key) == row["metric"]))
    return rows


def _accuracy(cell: dict[str, Any], scores: list[TaskScore], n_tasks_suite: int) -> tuple[Estimate, int, int, int]:
    """Mean of each task's primary metric; its CI combines the tasks' standard errors."""
    mine = [s for s in scores if s.model == cell["model"] and s.profile == cell["profile"] and s.primary]
    ok = [s for s in mine if s.status == "ok" and s.value is not None]
    total = max(len({s.task for s in mine}), n_tasks_suite)
    items = sum(s.n or 0 for s in ok)
    if not ok:
        if not mine:
            why = "no accuracy tasks ran" if n_tasks_suite == 0 else "no task scores recorded"
        else:
            why = "; ".join(sorted({f"{s.task}: {s.status} ({s.reason or 'no reason given'})" for s in mine}))
        return _missing(cell, why), 0, total, 0
    values = [float(s.value) for s in ok if s.value is not None]
    ses = [score_standard_error(s.stderr, s.ci_low, s.ci_high, s.value, s.n) for s in ok]
    return Estimate(*mean_of_scores(values, ses)), len(ok), total, items


def _latency_estimate(
    cell: dict[str, Any], all_requests: pd.DataFrame, measured: pd.DataFrame, column: str
) -> Estimate:
    mine_all = cell_rows(all_requests, cell["model"], cell["profile"])
    if mine_all.empty:
        return _missing(cell, "no performance scenario ran for this cell")
    mine = cell_rows(measured, cell["model"], cell["profile"])
    values = mine[column].map(clean).dropna().to_numpy(dtype=float) if column in mine else np.array([])
    if values.size == 0:
        errors = mine_all["error"].map(text) if "error" in mine_all else pd.Series(dtype=str)
        errors = errors[errors != ""]
        if not errors.empty:
            return Estimate(None, missing=f"all {len(errors)} measured requests failed: {errors.iloc[0][:120]}")
        return Estimate(None, missing=f"no {column} recorded")
    p95 = float(np.percentile(values, 95))
    ci = statistic_interval(values, "p95", iterations=500, seed=len(values))
    return Estimate(p95, *(ci or (None, None)))


def _memory(cell: dict[str, Any], figure: MemoryFigure, present: bool) -> Estimate:
    """The peak-memory metric: GPU memory for a cell that ran on a GPU (what must fit there), else host RSS."""
    if figure.on_gpu and figure.mb is not None:
        return Estimate(figure.mb)
    if not present:
        return Estimate(None, missing="memory not measured by this run")
    value = clean(cell.get("peak_rss_mb"))
    return _missing(cell, "not recorded for this cell") if value is None else Estimate(value)


def _no_requests(cell: dict[str, Any]) -> bool:
    return not clean(cell.get("n_requests"))


def _energy(cell: dict[str, Any], present: bool) -> Estimate:
    if not present:
        return Estimate(None, missing="energy per request not computed by this run")
    value = clean(cell.get("energy_per_request_j"))
    if value is None:
        if text(cell.get("energy_source")) in ("", "none"):
            return _missing(cell, "no energy sensor and no power model for this profile")
        if _no_requests(cell):
            return _missing(cell, "no successful perf requests to divide the energy by")
        return _missing(cell, "energy per request not derived for this cell")
    _, low, high = (clean(cell.get(c)) for c in range_columns("energy_per_request_j"))
    if low is not None and high is not None:
        return Estimate(value, low, high)
    total, low, high = (clean(cell.get(c)) for c in range_columns("energy_j"))
    if total and low is not None and high is not None:
        # a per-request figure carries the cell's relative range
        return Estimate(value, value * low / total, value * high / total)
    return Estimate(value)


def _cost(cell: dict[str, Any], present: bool) -> Estimate:
    if not present:
        return Estimate(None, missing="cost not computed by this run")
    if (value := clean(cell.get(COST.key))) is not None:
        return Estimate(value)
    if _no_requests(cell):
        return _missing(cell, "no successful perf requests to cost")
    return _missing(cell, "no API price for the model and no cost model for the profile")


def repetition_spread(group: pd.DataFrame) -> dict[str, float | None]:
    """(max - min) / median of a point's repetitions' median E2E, largest over the points; None with one repetition."""
    if "repetition" not in group.columns or group["e2e_s"].dropna().empty:
        return {"e2e_s_rep_spread": None, "repetitions": 1}
    spreads: list[float] = []
    most = 1
    for _, point in group.groupby(["scenario", "point"], sort=False):
        medians = point.groupby("repetition")["e2e_s"].median().dropna()
        most = max(most, len(medians))
        if len(medians) > 1 and float(medians.median()) > 0:
            spreads.append(float((medians.max() - medians.min()) / medians.median()))
    return {"e2e_s_rep_spread": max(spreads) if spreads else None, "repetitions": float(most)}


def cell_views(
    cells: pd.DataFrame, requests: pd.DataFrame, measured: pd.DataFrame, scores: list[TaskScore], n_tasks: int
) -> list[CellView]:
    cols = set(cells.columns)
    out: list[CellView] = []
    for r in records(cells):
        r["model"], r["profile"] = text(r.get("model")), text(r.get("profile"))
        r["status"] = text(r.get("status")) or "ok"
        acc, scored, total, items = _accuracy(r, scores, n_tasks)
        figure = judged_memory(r)
        metrics = {
            ACCURACY.key: acc,
            P95_E2E.key: _latency_estimate(r, requests, measured, "e2e_s"),
            P95_TTFT.key: _latency_estimate(r, requests, measured, "ttft_s"),
            MEMORY.key: _memory(r, figure, "peak_rss_mb" in cols),
            ENERGY.key: _energy(r, "energy_per_request_j" in cols),
            COST.key: _cost(r, COST.key in cols),
        }
        strings = row_fields(CellView, r)  # its text fields; model, profile and status were normalized above
        # every other cells-table column read as a number: None where it is missing or not a number
        numbers = {k: clean(r.get(k)) for k in CELL_COLUMNS if k not in strings}
        if not measured.empty and "cell_id" in measured.columns:
            numbers.update(repetition_spread(measured[measured["cell_id"] == r.get("cell_id")]))
        strings["energy_source"] = strings["energy_source"] or "none"
        strings["memory_label"] = figure.label
        out.append(
            CellView(
                **strings,
                metrics=metrics,
                numbers=numbers,
                tasks_scored=scored,
                tasks_total=total,
                items=items,
                fit=fit_verdict(text(r.get("fit"))),
                memory_on_gpu=figure.on_gpu,
            )
        )
    out.sort(key=lambda c: (c.profile, TIER_ORDER.get(c.tier, 9)))  # stable: the plan (and catalog) order within a tier
    return out


def latency_rows(requests: pd.DataFrame, measured: pd.DataFrame) -> list[LatencyRow]:
    rows: list[LatencyRow] = []
    if requests.empty:
        return rows
    keys = ["model", "profile", "scenario", "point"]
    frame = requests.copy()
    for key in keys:
        frame[key] = frame[key].map(text) if key in frame else ""
    frame["_ok"] = frame.index.isin(measured.index)
    for (model, profile, scenario, point), group in frame.groupby(keys, sort=True):
        ok = group[group["_ok"]]
        warm, errs = int(warmup_mask(group).sum()), int(error_mask(group).sum())
        for metric in (m for m in REQUEST_COLUMNS if m in ok):
            stats = {k: clean(v) for k, v in summarize(ok[metric].map(clean).tolist()).items()}
            rows.append(LatencyRow(str(model), str(profile), str(scenario), str(point), metric, stats, errs, warm))
    return rows
