"""The routing literature's summary figures (RouteLLM's definitions), from a curve of points.

``share`` is the strong (last) tier's call share, ``acc`` the accuracy, both per curve point;
``weak``/``strong`` are the first and last tier's accuracies alone on the same items.

- PGR   = (acc − weak) / (strong − weak)
- AUC   = trapezoid of accuracy over strong-call share, from 0 to 1
- APGR  = (AUC − weak) / (strong − weak)      (AUC of "always weak" is weak, of "always strong" is strong)
- CPT(x) = the strong-call share at which accuracy first reaches weak + x·(strong − weak), interpolated

All are undefined (None) when the strong tier is not more accurate than the weak one.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid

from harness.stats import percentile_interval


def _gap(weak: float, strong: float) -> float | None:
    gap = strong - weak
    return gap if gap > 0 and np.isfinite(gap) else None


def pgr(acc: float, weak: float, strong: float) -> float | None:
    gap = _gap(weak, strong)
    return None if gap is None else (acc - weak) / gap


def _sorted(share: np.ndarray, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(share, dtype=float), np.asarray(acc, dtype=float)
    order = np.lexsort((y, x))
    return x[order], y[order]


def apgr(share: np.ndarray, acc: np.ndarray, weak: float, strong: float) -> float | None:
    gap = _gap(weak, strong)
    if gap is None:
        return None
    x, y = _sorted(share, acc)
    # the curve runs from "never escalate" (share 0) to "always escalate" (share 1) by construction
    auc = float(trapezoid(y, x))
    return (auc - weak * (x[-1] - x[0])) / (gap * (x[-1] - x[0])) if x[-1] > x[0] else None


def cpt(share: np.ndarray, acc: np.ndarray, weak: float, strong: float, fraction: float) -> float | None:
    gap = _gap(weak, strong)
    if gap is None:
        return None
    target = weak + fraction * gap
    x, y = _sorted(share, acc)
    hits = np.nonzero(y >= target - 1e-12)[0]
    if hits.size == 0:
        return None
    i = int(hits[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def interval(values: list[float | None]) -> tuple[float | None, float | None]:
    """95% percentile interval of bootstrap replicates, or None when under 95% of them are defined."""
    defined = np.array([v for v in values if v is not None], dtype=float)
    if not values or defined.size < 0.95 * len(values):
        return None, None
    return percentile_interval(defined, 0.95)
