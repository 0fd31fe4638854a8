"""Synthetic run directories for gate tests, written through the real RunStore.

Item outcomes and latencies are explicit or drawn from a seeded generator, so a test states
exactly how much a run differs from its baseline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report_runs import synthetic_meta

from harness.results import RunStore


def outcomes(n: int, accuracy: float, seed: int = 0) -> list[bool]:
    """``n`` item outcomes with exactly round(n * accuracy) correct, in a seeded order."""
    correct = round(n * accuracy)
    values = np.array([True] * correct + [False] * (n - correct))
    np.random.default_rng(seed).shuffle(values)
    return [bool(v) for v in values]


def flip_correct(values: list[bool], k: int) -> list[bool]:
    """The first ``k`` correct items turned wrong: a paired degradation of exactly k items."""
    out = list(values)
    for i, value in enumerate(out):
        if k == 0:
            break
        if value:
            out[i] = False
            k -= 1
    return out


@dataclass
class Cell:
    model: str = "nano"
    tier: str = "nano"
    profile: str = "host"
    status: str = "ok"
    reason: str = ""
    tasks: dict[str, list[bool]] = field(default_factory=lambda: {"arith": outcomes(60, 0.6)})
    latency_scale: float = 1.0
    latency_seed: int = 0
    requests: int = 30
    repetitions: int = 1
    points: tuple[str, ...] = ("pp32/tg16",)
    peak_rss_mb: float = 300.0
    peak_anon_mb: float = 140.0
    energy_j: float | None = 100.0
    energy_range: float = 0.0  # +/- fraction for an estimated range (0: no range columns)
    extra: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)  # doc_id -> target override
    backend: str = "llamacpp"
    # a live cascade (backend "cascade"): this many measured requests of each point escalated and
    # streamed from the last tier after the first one's answer (no prefill rate); the others were
    # answered by the first tier and sent at once (no decode rate, TPOT or prefill rate either)
    escalated: int | None = None


def _request_rows(cell: Cell) -> list[dict[str, Any]]:
    rng = np.random.default_rng(cell.latency_seed)
    rows: list[dict[str, Any]] = []
    for point in cell.points:
        for repetition in range(cell.repetitions):
            for index in range(cell.requests + 1):
                ttft = float(rng.lognormal(np.log(0.05), 0.25)) * cell.latency_scale
                tpot = float(rng.lognormal(np.log(0.01), 0.2)) * cell.latency_scale
                row = {
                    "cell_id": f"{cell.model}@{cell.profile}",
                    "model": cell.model,
                    "profile": cell.profile,
                    "scenario": "short",
                    "point": point,
                    "repetition": repetition,
                    "index": index,
                    "warmup": index == 0,
                    "ttft_s": ttft * (5 if index == 0 else 1),  # a slow warm-up that must be ignored
                    "e2e_s": ttft + 15 * tpot,
                    "tpot_s": tpot,
                    "decode_tps": 1 / tpot,
                    "prefill_tps": 32 / ttft,
                    "error": None,
                }
                if cell.escalated is not None:
                    row.update(_cascade_timing(row, held_back=index <= cell.requests - cell.escalated))
                rows.append(row)
    return rows


def _cascade_timing(row: dict[str, Any], held_back: bool) -> dict[str, Any]:
    """What harness.meters.latency records for a live cascade's request (StreamUsage.buffered and
    first_token_after_other_work): a held-back answer arrives whole, an escalated one streams late."""
    if held_back:
        return {
            "e2e_s": row["ttft_s"] * 3,
            "ttft_s": row["ttft_s"] * 3,
            "tpot_s": None,
            "decode_tps": None,
            "prefill_tps": None,
        }
    return {"ttft_s": row["ttft_s"] * 4, "e2e_s": row["e2e_s"] + row["ttft_s"] * 3, "prefill_tps": None}


def write_run(path: Path, cells: list[Cell] | None = None, meta: dict[str, Any] | None = None) -> Path:
    """A run directory with the given cells (default: one healthy nano cell)."""
    cells = cells if cells is not None else [Cell()]
    store = RunStore.create(path)
    models = [{"name": c.model, "tier": c.tier, "backend": c.backend, "params": {}} for c in cells]
    store.write_meta(synthetic_meta(path.name, **{"models": models, **(meta or {})}))
    cell_rows, request_rows, samples = [], [], []
    for cell in cells:
        ok = cell.status == "ok"
        row: dict[str, Any] = {
            "cell_id": f"{cell.model}@{cell.profile}",
            "model": cell.model,
            "tier": cell.tier,
            "backend": cell.backend,
            "profile": cell.profile,
            "status": cell.status,
            "reason": cell.reason,
            "peak_rss_mb": cell.peak_rss_mb,
            "peak_anon_mb": cell.peak_anon_mb,
            "energy_j": cell.energy_j,
            "n_requests": cell.requests * cell.repetitions * len(cell.points),
            **cell.extra,
        }
        if cell.energy_range and cell.energy_j is not None:
            row["energy_j_low"] = cell.energy_j * (1 - cell.energy_range)
            row["energy_j_high"] = cell.energy_j * (1 + cell.energy_range)
        cell_rows.append(row)
        if not ok:
            continue
        request_rows.extend(_request_rows(cell))
        for task, values in cell.tasks.items():
            for doc_id, correct in enumerate(values):
                samples.append(
                    {
                        "cell_id": f"{cell.model}@{cell.profile}",
                        "model": cell.model,
                        "profile": cell.profile,
                        "task": task,
                        "doc_id": doc_id,
                        "target": cell.targets.get(str(doc_id), f"answer-{task}-{doc_id}"),
                        "correct": correct,
                        "score": float(correct),
                    }
                )
    store.write_table("cells", pd.DataFrame(cell_rows))
    store.write_table("requests", pd.DataFrame(request_rows))
    store.write_samples(samples)
    return path


def write_rules(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


QUICK_TASKS = (
    "factual_qa",
    "arithmetic",
    "word_problems",
    "sentiment",
    "moderation",
    "json_extraction",
    "instruction_following",
)


def quick_run_cells(limit: int = 10, requests: int = 10, escalated: int = 5) -> list[Cell]:
    """The cells of the default ``tierbench run --limit 10`` (the quick suite): nano and mini measured,
    full skipped for want of an API key, and the live nano-mini cascade, which escalated ``escalated``
    of its ``requests`` latency requests."""

    def tasks(accuracy: float, seed: int) -> dict[str, list[bool]]:
        return {task: outcomes(limit, accuracy, seed + i) for i, task in enumerate(QUICK_TASKS)}

    common: dict[str, Any] = {"requests": requests, "points": ("pp128/tg64",)}
    return [
        Cell(model="nano", tier="nano", tasks=tasks(0.4, 0), latency_seed=1, **common),
        Cell(model="mini", tier="mini", tasks=tasks(0.5, 10), latency_seed=2, peak_rss_mb=420.0, **common),
        Cell(
            model="full",
            tier="full",
            backend="openai",
            status="skipped",
            reason="OPENAI_API_KEY is not set; export it or drop --models full",
            energy_j=None,
        ),
        Cell(
            model="nano-mini",
            tier="hybrid",
            backend="cascade",
            tasks=tasks(0.5, 20),
            latency_seed=3,
            peak_rss_mb=520.0,
            escalated=escalated,
            **common,
        ),
    ]


REPO = Path(__file__).resolve().parents[1]
_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
_RULES = re.compile(r"(?m)^rules:")


def shipped_rules() -> dict[str, str]:
    """Every rules file a user is shown, by where it is: examples/**.yaml holding ``rules:``, and
    each YAML block of README.md and docs/*.md that holds one."""
    found = {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
        for path in sorted((REPO / "examples").rglob("*.y*ml"))
        if _RULES.search(path.read_text(encoding="utf-8"))
    }
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for number, block in enumerate(_YAML_BLOCK.findall(doc.read_text(encoding="utf-8")), start=1):
            if _RULES.search(block):
                found[f"{doc.relative_to(REPO)} yaml block {number}"] = block
    return found
