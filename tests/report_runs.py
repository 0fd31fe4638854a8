"""Synthetic run directories for the report tests, written through the real RunStore.

They cover every cell state the report must explain: ok, partial, failed, skipped,
does_not_fit, estimated energy, an emulated profile and an unsupported task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.results import RunStore
from harness.results.schema import RunMeta, RunOptions

# meta.json's host of every synthetic run: one fixed machine, every fingerprint field recorded
HOST: dict[str, Any] = {
    "hostname": "testhost",
    "cpu_model": "Intel(R) Xeon(R) Processor",
    "cpu_vendor": "GenuineIntel",
    "cpu_flags": ["amx_int8", "amx_tile", "avx", "avx2", "avx512f", "fma", "sse4_2"],
    "physical_cores": 2,
    "logical_cores": 2,
    "usable_cores": 2,
    "memory_mb": 24105,
    "os": "Linux",
    "python": "3.11.7",
    "packages": {},
    "llama_cpp": {"version": "0.3.16", "system_info": "CPU : AVX2 = 1 | AMX_INT8 = 1 |"},
    "llama_cpp_features": ["AMX_INT8", "AVX2"],
    "torch": None,
    "torch_cuda": None,
    "gpus": [],
}


def synthetic_meta(run_id: str, **fields: Any) -> RunMeta:
    """A valid meta.json for a hand-made run directory; ``fields`` replace the defaults."""
    record: dict[str, Any] = {
        "run_id": run_id,
        "tierbench_version": "0.0.0-test",
        "created_at": "2025-01-01T00:00:00+0000",
        "status": "complete",
        "suite": {"name": "synthetic"},
        "models": [],
        "profiles": [],
        "options": RunOptions(suite_source="synthetic"),
        "host": HOST,
        **fields,
    }
    return RunMeta.model_validate(record)


HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

PROFILES = {
    "laptop": {"name": "laptop", "class": "laptop", "cores": 4, "memory_mb": 8192},
    "edge": {"name": "edge", "class": "edge", "cores": 2, "memory_mb": 300},
}
MODELS = {
    "nano": {"tier": "nano", "backend": "llamacpp", "description": "SmolLM2-135M"},
    "mini": {"tier": "mini", "backend": "llamacpp", "description": "Gemma 3 270M"},
    "full": {"tier": "full", "backend": "openai", "description": "GPT-5"},
}
# model, profile, status, reason, accuracy (piqa), p50 e2e seconds, rss MB
CELLS = [
    ("nano", "laptop", "ok", "", 0.62, 0.30, 210.0),
    ("mini", "laptop", "ok", "", 0.71, 0.55, 380.0),
    ("full", "laptop", "failed", "OPENAI_API_KEY is not set; export it or drop --models full", None, None, None),
    ("nano", "edge", "ok", "", 0.60, 0.90, 205.0),
    ("mini", "edge", "does_not_fit", "needs 380 MB, the profile allows 300 MB", None, None, None),
    ("full", "edge", "skipped", "API tiers are not run on device profiles", None, None, None),
]


def make_run(
    root: Path,
    *,
    constraints: dict[str, Any] | None = None,
    hostile: bool = False,
    items: int = 40,
    accuracy_shift: float = 0.0,
    latency_scale: float = 1.0,
    seed: int = 0,
    with_cost: bool = True,
    extra_samples: int = 0,
    gpu: bool = False,
) -> Path:
    """Write a complete run directory under ``root`` and return it.

    ``gpu``: the laptop cells ran on a GPU: NVML energy (a point, no range) and GPU memory (mini's
    GPU process figure, 5,000 MiB, is over the 4,096 MiB constraint while its host RSS is not)."""
    rng = np.random.default_rng(seed)
    store = RunStore.create(root)
    store.write_meta(
        synthetic_meta(
            root.name,
            suite={
                "name": "quick",
                "description": "synthetic suite for tests",
                "tasks": ["piqa", "gsm8k", "truthfulqa"],
                "constraints": constraints
                or {"min_accuracy": 0.4, "max_p95_e2e_s": 2.0, "max_memory_mb": 4096, "objective": "cheapest"},
            },
            host={
                "hostname": "ci-host",
                "cpu_model": "Test CPU",
                "physical_cores": 2,
                "memory_mb": 24000,
                "packages": {"tierbench": "0.1.0", "pandas": pd.__version__},
            },
            git_revision="abc1234",
            created_at="2025-01-01T00:00:00Z",
            profiles=list(PROFILES.values()),
            models=[{"name": name, **spec} for name, spec in MODELS.items()],
        )
    )
    cells, requests, scores, samples = [], [], [], []
    for model, profile, status, reason, acc, e2e, rss in CELLS:
        cell_id = f"{model}@{profile}"
        ran = status == "ok"
        n_req = 20 if ran else 0
        energy = 12.0 * (2 if model == "mini" else 1) if ran else None
        cells.append(
            {
                "cell_id": cell_id,
                "model": model,
                "tier": MODELS[model]["tier"],
                "backend": MODELS[model]["backend"],
                "profile": profile,
                "status": status,
                "reason": (HOSTILE if hostile and status == "failed" else reason),
                "emulated_on": "ci-host" if profile == "edge" else None,
                "peak_rss_mb": rss,
                "peak_anon_mb": rss * 0.3 if rss else None,
                "peak_file_mb": rss * 0.7 if rss else None,
                "model_file_mb": 100.0 if model == "nano" else (250.0 if model == "mini" else None),
                "energy_source": "estimate" if ran else "none",
                "energy_j": energy,
                "energy_j_low": energy * 0.7 if energy else None,
                "energy_j_high": energy * 1.3 if energy else None,
                "energy_per_request_j": energy / n_req if energy else None,
                "load_time_s": 0.4 if ran else None,
                "n_requests": n_req,
                "n_errors": 1 if ran else 0,
                "warmup_requests": 1 if ran else 0,
                **(
                    {
                        "energy_source": "nvml",
                        "energy_j_low": None,
                        "energy_j_high": None,
                        "gpu_process_mb": 5000.0 if model == "mini" else 900.0,
                        "gpu_peak_allocated_mb": 300.0,
                    }
                    if gpu and ran and profile == "laptop"
                    else {}
                ),
                **(
                    {
                        "cost_per_1k_requests_usd": (0.01 if model == "nano" else 0.025) if ran else None,
                        "fit": "does_not_fit" if status == "does_not_fit" else "fits",
                        "fit_reason": reason if status == "does_not_fit" else "",
                    }
                    if with_cost
                    else {}
                ),
            }
        )
        if not ran:
            continue
        assert e2e is not None and acc is not None
        for i in range(n_req + 2):
            e = float(rng.lognormal(np.log(e2e * latency_scale), 0.2))
            requests.append(
                {
                    "cell_id": cell_id,
                    "model": model,
                    "profile": profile,
                    "scenario": "short",
                    "point": "p64-o32",
                    "repetition": 0,
                    "index": i,
                    "warmup": i == 0,
                    "concurrency": 1,
                    "prompt_tokens": 64,
                    "output_tokens": 32,
                    "ttft_s": e * 0.2,
                    "e2e_s": e,
                    "tpot_s": e * 0.8 / 31,
                    "decode_tps": 31 / (e * 0.8),
                    "prefill_tps": 64 / (e * 0.2),
                    "token_count_source": "backend",
                    "error": "TimeoutError: took too long" if i == n_req + 1 else None,
                }
            )
        for task, metric, base in (("piqa", "acc", acc), ("gsm8k", "exact_match", acc / 4)):
            p = min(max(base + accuracy_shift, 0.0), 1.0)
            flags = rng.random(items) < p
            value = float(flags.mean())
            se = float(np.sqrt(max(value * (1 - value), 1e-9) / items))
            task_name = f"<b>{task}</b>" if hostile and task == "gsm8k" else task
            scores.append(
                {
                    "cell_id": cell_id,
                    "model": model,
                    "profile": profile,
                    "task": task_name,
                    "metric": metric,
                    "value": value,
                    "stderr": se,
                    "ci_low": max(value - 1.96 * se, 0),
                    "ci_high": min(value + 1.96 * se, 1),
                    "n": items,
                    "status": "ok",
                    "reason": None,
                }
            )
            if metric == "acc":
                scores.append({**scores[-1], "metric": "acc_norm", "value": min(value + 0.02, 1.0)})
            for doc, flag in enumerate(flags):
                samples.append(
                    {
                        "cell_id": cell_id,
                        "model": model,
                        "profile": profile,
                        "task": task_name,
                        "doc_id": doc,
                        "prompt": f"Question {doc}: how to open a jar?",
                        "response": HOSTILE if hostile else f"answer {doc}",
                        "target": "twist the lid",
                        "correct": bool(flag),
                        "score": float(flag),
                        "latency_s": 0.1,
                        "prompt_tokens": 12,
                        "output_tokens": 4,
                    }
                )
        scores.append(
            {
                "cell_id": cell_id,
                "model": model,
                "profile": profile,
                "task": "truthfulqa",
                "metric": "mc2",
                "value": None,
                "stderr": None,
                "ci_low": None,
                "ci_high": None,
                "n": 0,
                "status": "unsupported",
                "reason": "needs log-likelihoods; backend only generates",
            }
        )
    store.write_table("cells", pd.DataFrame(cells))
    store.write_table("requests", pd.DataFrame(requests))
    store.write_table("scores", pd.DataFrame(scores))
    store.write_samples(samples)
    if extra_samples:
        with store.layout.samples.open("a", encoding="utf-8") as handle:
            for i in range(extra_samples):
                record = {
                    "model": "nano",
                    "profile": "laptop",
                    "task": "piqa",
                    "doc_id": f"x{i}",
                    "prompt": "p" * 200,
                    "response": "r" * 200,
                    "target": "t",
                    "correct": i % 2 == 0,
                }
                handle.write(json.dumps(record) + "\n")
    return root
