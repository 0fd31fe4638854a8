"""Curve figures with paired-bootstrap 95% intervals: every point is measured on the same resampled items.

Resampling items (not thresholds, not tiers) keeps the pairing: a resample that happens to hold
more hard items lowers every tier and every cascade point together, so differences between
points stay honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.cascade.routing import Outcome, TierRates
from harness.stats import percentile_interval

FIGURES = ("accuracy", "cost_per_1k_usd", "latency_p50_s", "latency_p95_s", "energy_per_request_j")
LEVEL = 0.95
_CHUNK_CELLS = 4_000_000  # floats per bootstrap block, to bound memory on large runs


@dataclass(frozen=True)
class Figures:
    """Point estimates (m,) and bootstrap replicates (m, B) per figure name; ``reach_j`` per tier too."""

    point: dict[str, np.ndarray]
    boot: dict[str, np.ndarray]

    def interval(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval per point (NaN where the figure is unknown)."""
        boot = self.boot[name]
        low, high = np.full(boot.shape[0], np.nan), np.full(boot.shape[0], np.nan)
        for i in np.flatnonzero(np.isfinite(boot).all(axis=1)):
            low[i], high[i] = percentile_interval(boot[i], LEVEL)
        return low, high


def measure(out: Outcome, idx: np.ndarray) -> Figures:
    """Means and latency percentiles per point, on the items and on every resample ``idx``."""
    m, n = out.correct.shape
    n_boot = idx.shape[0]
    per_item = {
        "accuracy": out.correct,
        "cost_per_1k_usd": 1000.0 * out.cost_usd,
        "energy_per_request_j": out.energy_j,
        **{f"reach_{j}": out.reached[..., j].astype(float) for j in range(out.reached.shape[-1])},
    }
    point = {name: values.mean(axis=1) for name, values in per_item.items()}
    point["latency_p50_s"], point["latency_p95_s"] = np.percentile(out.latency_s, [50, 95], axis=1)
    boot = {name: np.empty((m, n_boot)) for name in [*per_item, "latency_p50_s", "latency_p95_s"]}
    step = max(1, _CHUNK_CELLS // max(m * n, 1))
    for start in range(0, n_boot, step):
        block, part = idx[start : start + step], slice(start, start + step)
        for name, values in per_item.items():
            boot[name][:, part] = values[:, block].mean(axis=-1)
        boot["latency_p50_s"][:, part], boot["latency_p95_s"][:, part] = np.percentile(
            out.latency_s[:, block], [50, 95], axis=-1
        )
    return Figures(point, boot)


def random_routing(cascade: Figures, tiers: Figures, rates: TierRates) -> Figures:
    """Expected figures when each tier escalates at random at the cascade's own rates: an item is answered
    at tier j with probability ``reach_j - reach_{j+1}``, as correctly as tier j on the same (resampled)
    items. Random escalation needs no signal, so it pays no self-check."""
    k = len(rates.cost_usd)

    def combine(reach: np.ndarray, accuracy: np.ndarray) -> dict[str, np.ndarray]:
        # reach: (m, [B,] k); accuracy: ([B,] k)
        answered = reach - np.concatenate([reach[..., 1:], np.zeros_like(reach[..., :1])], axis=-1)
        # a share is never negative; a tier no item reaches adds nothing, even where its rate is unknown (NaN)
        return {
            "accuracy": (answered * accuracy).sum(axis=-1),
            "cost_per_1k_usd": 1000.0 * (reach * np.where(reach > 0, rates.cost_usd, 0.0)).sum(axis=-1),
            "energy_per_request_j": (reach * np.where(reach > 0, rates.energy_j, 0.0)).sum(axis=-1),
        }

    reach_point = np.stack([cascade.point[f"reach_{j}"] for j in range(k)], axis=-1)  # (m, k)
    reach_boot = np.stack([cascade.boot[f"reach_{j}"] for j in range(k)], axis=-1)  # (m, B, k)
    acc_point = tiers.point["accuracy"]  # (k,)
    acc_boot = tiers.boot["accuracy"].T  # (B, k)
    point = combine(reach_point, acc_point)
    boot = combine(reach_boot, acc_boot[None, :, :])
    for j in range(k):
        point[f"reach_{j}"] = reach_point[:, j]
        boot[f"reach_{j}"] = reach_boot[:, :, j]
    return Figures(point, boot)
