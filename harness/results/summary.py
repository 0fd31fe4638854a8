"""Per-cell headline figures derived from the tables: one definition for terminal, report and gate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.meters.latency import summarize

# The metric that stands for a task's accuracy, in order of preference.
PRIMARY_METRICS = ("acc", "exact_match", "pass", "pass@1", "follow", "field_acc", "f1", "rougeL", "acc_norm")
Z95 = 1.959963984540054


def primary_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, task): the task's primary metric, if it was scored."""
    if scores.empty:
        return scores.copy()
    ok = scores[(scores["status"].fillna("ok") == "ok") & scores["value"].notna()]
    rows = []
    for _key, group in ok.groupby(["cell_id", "task"], sort=False):
        metrics = list(group["metric"])
        chosen = next((m for m in PRIMARY_METRICS if m in metrics), metrics[0])
        rows.append(group[group["metric"] == chosen].iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True) if rows else ok.iloc[0:0].copy()


def accuracy_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy over a cell's tasks with its standard error and 95% interval."""
    primary = primary_scores(scores)
    rows: list[dict[str, Any]] = []
    if primary.empty:
        return pd.DataFrame(
            columns=[
                "cell_id",
                "accuracy",
                "accuracy_stderr",
                "accuracy_ci_low",
                "accuracy_ci_high",
                "accuracy_tasks",
                "accuracy_items",
            ]
        )
    for cell_id, group in primary.groupby("cell_id", sort=False):
        values = group["value"].astype(float).to_numpy()
        errors = group["stderr"].astype(float).fillna(0.0).to_numpy()
        mean = float(values.mean())
        stderr = float(math.sqrt(float(np.sum(errors**2)))) / len(values)
        rows.append(
            {
                "cell_id": cell_id,
                "accuracy": mean,
                "accuracy_stderr": stderr,
                "accuracy_ci_low": max(mean - Z95 * stderr, 0.0),
                "accuracy_ci_high": min(mean + Z95 * stderr, 1.0),
                "accuracy_tasks": len(values),
                "accuracy_items": int(group["n"].fillna(0).sum()),
            }
        )
    return pd.DataFrame(rows)


def latency_summary(requests: pd.DataFrame) -> pd.DataFrame:
    """Latency percentiles of each cell's measured (non-warm-up, successful) requests."""
    columns = ["cell_id"]
    if requests.empty:
        return pd.DataFrame(columns=columns)
    measured = requests[~requests["warmup"].fillna(False).astype(bool)]
    measured = measured[measured["error"].isna() | (measured["error"] == "")]
    rows = []
    for cell_id, group in measured.groupby("cell_id", sort=False):
        row: dict[str, Any] = {"cell_id": cell_id}
        for metric in ("ttft_s", "e2e_s", "tpot_s", "decode_tps", "prefill_tps"):
            stats = summarize(group[metric].tolist())
            for stat, value in stats.items():
                row[f"{metric}_{stat}"] = value
        row["output_tokens_total"] = int(group["output_tokens"].fillna(0).sum())
        row.update(repetition_spread(group))
        rows.append(row)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def repetition_spread(group: pd.DataFrame) -> dict[str, Any]:
    """Spread of the median E2E between repetitions of a point: (max - min) / median of the
    repetitions' medians, the largest over the cell's points; None with a single repetition."""
    if "repetition" not in group.columns or group["e2e_s"].dropna().empty:
        return {"e2e_s_rep_spread": None, "repetitions": 1}
    spreads: list[float] = []
    most = 1
    for _, point in group.groupby(["scenario", "point"], sort=False):
        medians = point.groupby("repetition")["e2e_s"].median().dropna()
        most = max(most, len(medians))
        if len(medians) > 1 and float(medians.median()) > 0:
            spreads.append(float((medians.max() - medians.min()) / medians.median()))
    return {"e2e_s_rep_spread": max(spreads) if spreads else None, "repetitions": most}


def cell_summary(cells: pd.DataFrame, requests: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Cells joined with their accuracy and latency headline figures."""
    out = cells.copy()
    for extra in (accuracy_summary(scores), latency_summary(requests)):
        if not extra.empty:
            out = out.merge(extra, on="cell_id", how="left")
    return out
