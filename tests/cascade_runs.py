"""Hand-built run directories for the cascade replay's own logic, written through the real RunStore.

Their samples carry confidence the way issue 12's contract (harness/results/signals.py) says a
run writes it; the numbers are chosen so every expected figure can be worked out by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report_runs import synthetic_meta

from harness.results import RunStore

# model, profile, tier, backend, cost per 1k requests (USD), energy per request (J), seconds per request
TIERS = [
    ("nano", "host", "nano", "llamacpp", 1.0, 2.0, 0.5),
    ("mini", "host", "mini", "llamacpp", 4.0, 6.0, 1.0),
    ("full", "host", "full", "openai", 40.0, None, 2.0),
]


def make_cascade_run(
    root: Path,
    *,
    n: int = 200,
    seed: int = 0,
    tasks: tuple[str, ...] = ("piqa", "arc_easy"),
    confidence: bool = True,
    missing: dict[str, int] | None = None,
    constraints: dict[str, Any] | None = None,
    extra_cells: list[dict[str, Any]] | None = None,
    extra_samples: list[dict[str, Any]] | None = None,
    extra_models: list[dict[str, Any]] | None = None,
    tiers: list[tuple[Any, ...]] | None = None,
) -> Path:
    """A run of nano, mini and full on ``n`` items per task where confidence predicts nano's and mini's errors.

    ``missing`` drops that many items (the first ones) from a model's samples.
    """
    rng = np.random.default_rng(seed)
    tiers = tiers or TIERS
    store = RunStore.create(root)
    store.write_meta(
        synthetic_meta(
            root.name,
            suite={"name": "cascade-test", "tasks": list(tasks), "constraints": constraints or {}},
            models=[{"name": m, "tier": t, "backend": b} for m, _, t, b, *_ in tiers] + (extra_models or []),
        )
    )
    cells = [
        {
            "cell_id": f"{m}@{p}",
            "model": m,
            "profile": p,
            "tier": t,
            "backend": b,
            "status": "ok",
            "cost_per_1k_requests_usd": cost,
            "energy_per_request_j": energy,
            "seconds_per_request": seconds,
            "energy_source": "estimate" if energy is not None else "none",
        }
        for m, p, t, b, cost, energy, seconds in tiers
    ]
    store.write_table("cells", pd.DataFrame(cells + (extra_cells or [])))
    records: list[dict[str, Any]] = []
    skill = {"nano": 0.55, "mini": 0.7, "full": 0.9}
    # per item, each model's correctness depends on the item's difficulty; nano's confidence tracks it
    for task in tasks:
        for i in range(n):
            difficulty = rng.uniform()
            for model, profile, *_ in tiers:
                if missing and i < missing.get(model, 0):
                    continue
                right = bool(rng.uniform() < skill[model] * (1.2 - 0.4 * difficulty))
                margin = float(np.clip(rng.normal(0.6 if right else 0.3, 0.2), 0.0, 1.0))
                record: dict[str, Any] = {
                    "cell_id": f"{model}@{profile}",
                    "model": model,
                    "profile": profile,
                    "task": task,
                    "doc_id": i,
                    "correct": right,
                    "latency_s": {"nano": 0.1, "mini": 0.3, "full": 1.0}[model]
                    * (1 + rng.uniform())
                    * (3 if profile != "host" else 1),
                }
                if confidence:
                    # two choices whose softmax probabilities differ by the margin, as part A writes them
                    best, other = (1 + margin) / 2, (1 - margin) / 2
                    record["choice_loglik"] = [float(np.log(best)), float(np.log(max(other, 1e-9)))]
                    record["confidence"] = {"mc_margin": margin, "mc_margin_norm": None}
                records.append(record)
    store.write_samples(records + (extra_samples or []))
    return root
