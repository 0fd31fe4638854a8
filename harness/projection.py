"""Project measured host cells onto devices this machine does not have (a roofline transfer).

Decode reads every weight (plus the KV cache) per token, so it is bandwidth-bound; prefill does ~2
FLOPs per parameter per token in large batches, so it is compute-bound. Each host request's
efficiency against the host roofline measured in its own cell (``roofline_*`` columns) is applied to
the target's roofline. Model facts come from the files (GGUF header, or config.json and safetensors
headers). A host cell that ran on a GPU is not projected: no roofline of the host's GPU is measured.
Every projected figure is a range (:func:`transfer_band`, compared with published benchmarks in
docs/profiles.md); accuracy is never projected. A reader of the run directory: it imports no backend.
"""

from __future__ import annotations

import functools
import math
import platform
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config.profile import HardwareProfile, PerformanceModel
from harness.fitcost import J_PER_KWH
from harness.ggufheader import read_header
from harness.hf_facts import TORCH_BYTES, read_hf_facts
from harness.modelfacts import ModelFacts
from harness.results.columns import PROJECTION_COLUMNS, range_values
from harness.results.memoryfigure import ran_on_gpu
from harness.results.schema import PROJECTED
from harness.results.values import finite_or_none as _num
from harness.results.values import measured_requests

HOST = "host"
# A datasheet peak is more than any kernel sustains; the host's figures are sustained measurements,
# so a peak is scaled to a sustained figure first (STREAM-style copies typically reach 60-80% of
# theoretical DRAM bandwidth; dense FP32 GEMM 80-90% of FMA peak).
SUSTAINED_BANDWIDTH = 0.7
SUSTAINED_COMPUTE = 0.8
# Below this share of its own roofline a host cell was disturbed (e.g. llama.cpp threads spinning
# while another process holds their core): projections from it are flagged as pessimistic.
BUSY_EFFICIENCY = 0.2
# Load time: how much slower or faster the non-I/O part of loading may run than the core ratio says.
LOAD_BAND = (0.5, 2.0)
# what each projected request carries over, in the order project_request takes them
MEASURED = ("prompt_tokens", "output_tokens", "decode_tps", "prefill_tps")
# a Span's ends in the order of range_values: a rate's value, low and high, and the rates a time's come from
MID_LOW_HIGH, MID_FAST_SLOW = ("mid", "low", "high"), ("mid", "high", "low")


@functools.lru_cache(maxsize=16)
def read_model_facts(path: str) -> ModelFacts:
    """Parameter count and shapes from the GGUF header (``harness.ggufheader``), size from the file."""
    header = read_header(Path(path))
    field = header.fields.get
    arch = str(field("general.architecture") or "llama")
    n_layer = int(field(f"{arch}.block_count") or 0)
    width = int(field(f"{arch}.embedding_length") or 0)
    heads = int(field(f"{arch}.attention.head_count") or 1)
    kv_heads = int(field(f"{arch}.attention.head_count_kv") or heads)
    key_len = int(field(f"{arch}.attention.key_length") or (width // max(heads, 1)))
    value_len = int(field(f"{arch}.attention.value_length") or key_len)
    # llama.cpp keeps K and V in f16 by default: 2 bytes per element
    kv_bytes = 2.0 * n_layer * kv_heads * (key_len + value_len)
    return ModelFacts(
        file_bytes=Path(path).stat().st_size,
        params=header.n_params,
        embedding_params=header.tensor_elements.get("token_embd.weight", 0),
        output_params=header.tensor_elements.get("output.weight", 0),
        n_layer=n_layer,
        attention_width=heads * key_len,
        kv_bytes_per_token=kv_bytes,
    )


def model_facts(path: str, weights_dtype: str | None = None) -> ModelFacts:
    """Facts of a GGUF file, or of a transformers model directory (config.json + safetensors headers).

    ``weights_dtype`` (a cell's ``weights_dtype``, e.g. ``torch.bfloat16``) is how the weights were
    held at run time: transformers de-quantizes a GGUF file to it, so its bytes replace the file's."""
    if Path(path).is_dir():
        return read_hf_facts(Path(path), weights_dtype)
    facts = read_model_facts(path)
    if weights_dtype and (per_param := TORCH_BYTES.get(weights_dtype)):
        facts = replace(
            facts, file_bytes=facts.params * per_param, kv_bytes_per_token=facts.kv_bytes_per_token * per_param / 2
        )
    return facts


@dataclass(frozen=True)
class Ceiling:
    """A roofline; ``core_gflops`` is one core's compute, the speed of work that does not spread over threads
    (sampling, graph building): None for a GPU, where that work runs on a host CPU the profile does not describe."""

    bandwidth_gbs: float
    gflops: float
    label: str
    core_gflops: float | None = None

    def rate(self, bytes_per_token: float, flops_per_token: float) -> tuple[float, str]:
        """Tokens/s the roofline allows, and which roof binds."""
        t_mem = bytes_per_token / (self.bandwidth_gbs * 1e9)
        t_cmp = flops_per_token / (self.gflops * 1e9)
        return (1.0 / max(t_mem, t_cmp), "bandwidth" if t_mem >= t_cmp else "compute")


def target_ceiling(profile: HardwareProfile) -> Ceiling | None:
    """The profile's sustained roofline: its GPU when it has one with figures, else its CPU cores."""
    perf = profile.performance
    if perf is None:
        return None
    bw_scale, cmp_scale = (SUSTAINED_BANDWIDTH, SUSTAINED_COMPUTE) if perf.basis == "peak" else (1.0, 1.0)
    if profile.accelerator.kind == "gpu" and perf.accelerator_bandwidth_gbs and perf.accelerator_gflops:
        return Ceiling(
            perf.accelerator_bandwidth_gbs * bw_scale,
            perf.accelerator_gflops * cmp_scale,
            f"{profile.accelerator.name or 'GPU'} (all layers offloaded)",
        )
    threads = min(profile.effective_threads, profile.cores)
    return Ceiling(
        perf.memory_bandwidth_gbs * bw_scale,
        perf.cpu_gflops_per_core * threads * cmp_scale,
        f"{threads} {perf.architecture} core(s)",
        perf.cpu_gflops_per_core * cmp_scale,
    )


def transfer_band(perf: PerformanceModel, gpu: bool, host_arch: str) -> tuple[float, float, str]:
    """(low, high, why): the factor range around a projected throughput, wide on purpose (docs/profiles.md)."""
    if gpu:
        why = "CPU efficiency carried to a GPU: small models there are bound by kernel launches and synchronisation"
        return 0.1, 1.0, f"{why}, not bandwidth, so the roofline figure is an upper bound"
    if perf.architecture == host_arch and perf.basis == "measured":
        return 0.75, 1.3, f"same instruction set ({host_arch}), figures measured: run-to-run noise of a shared host"
    if perf.architecture == host_arch:
        return 0.6, 1.4, f"same instruction set ({host_arch}), datasheet figures"
    return 0.5, 1.5, f"{host_arch} efficiency carried to {perf.architecture} cores (different kernels and caches)"


def host_disturbed(cell: dict[str, Any]) -> bool:
    """Several workers moved less memory than one did in the same minute: other processes held the cores."""
    threads = _num(cell.get("roofline_threads")) or 1
    many, one = _num(cell.get("roofline_bandwidth_gbs")), _num(cell.get("roofline_single_bandwidth_gbs"))
    return threads > 1 and many is not None and one is not None and many < one


def host_ceiling(cell: dict[str, Any]) -> Ceiling | None:
    bandwidth, gflops = _num(cell.get("roofline_bandwidth_gbs")), _num(cell.get("roofline_gflops"))
    if not bandwidth or not gflops:
        return None
    threads = _num(cell.get("roofline_threads")) or _num(cell.get("threads")) or 1
    return Ceiling(bandwidth, gflops, f"host, {int(threads)} thread(s), measured", gflops / threads)


@dataclass(frozen=True)
class Span:
    """A projected rate: its central value and the range around it."""

    mid: float
    low: float
    high: float


def span(parallel: float, serial: float | None, band: tuple[float, float]) -> Span:
    """The range between the two transfers, each widened by the band; the centre is their geometric mean.

    A time per token is part parallel work under a roofline (``parallel``: scaled by the roofline ratio)
    and part one-core work (``serial``: scaled by one core's speed); one measurement cannot tell the
    shares apart, so the truth lies between the two."""
    if serial is None:
        return Span(parallel, parallel * band[0], parallel * band[1])
    return Span(math.sqrt(parallel * serial), min(parallel, serial) * band[0], max(parallel, serial) * band[1])


@dataclass(frozen=True)
class RequestProjection:
    prompt_tokens: float
    output_tokens: float
    decode: Span
    prefill: Span
    decode_efficiency: float
    prefill_efficiency: float
    decode_bound: str
    prefill_bound: str

    @property
    def decode_tps(self) -> float:
        return self.decode.mid

    @property
    def prefill_tps(self) -> float:
        return self.prefill.mid


def project_request(
    facts: ModelFacts,
    host: Ceiling,
    target: Ceiling,
    prompt: float,
    output: float,
    decode: float,
    prefill: float,
    *,
    band: tuple[float, float] = (1.0, 1.0),
) -> RequestProjection:
    """One measured request's decode and prefill rates carried from the host to the target (see :func:`span`)."""
    context = prompt + output / 2
    d_bytes, d_flops = facts.decode_bytes(context), facts.decode_flops(context)
    p_bytes, p_flops = facts.prefill_bytes(prompt), facts.prefill_flops(prompt)
    host_d, _ = host.rate(d_bytes, d_flops)
    host_p, _ = host.rate(p_bytes, p_flops)
    target_d, d_bound = target.rate(d_bytes, d_flops)
    target_p, p_bound = target.rate(p_bytes, p_flops)
    eff_d, eff_p = decode / host_d, prefill / host_p
    core = target.core_gflops / host.core_gflops if target.core_gflops and host.core_gflops else None
    return RequestProjection(
        prompt,
        output,
        span(eff_d * target_d, None if core is None else decode * core, band),
        span(eff_p * target_p, None if core is None else prefill * core, band),
        eff_d,
        eff_p,
        d_bound,
        p_bound,
    )


def _e2e(r: RequestProjection, which: str) -> float:
    """End-to-end seconds of one projected request at its central (mid), fastest (high) or slowest (low) rates."""
    prefill, decode = float(getattr(r.prefill, which)), float(getattr(r.decode, which))
    return r.prompt_tokens / prefill + max(r.output_tokens - 1, 0) / decode


def _measured(requests: pd.DataFrame, cell_id: str) -> pd.DataFrame:
    if requests.empty or "cell_id" not in requests.columns:
        return requests.iloc[0:0]
    mine = measured_requests(requests[requests["cell_id"] == cell_id])
    for column in MEASURED:
        if column not in mine.columns:
            return mine.iloc[0:0]
        mine = mine[mine[column].map(_num).notna()]
    return mine[(mine["decode_tps"].astype(float) > 0) & (mine["prefill_tps"].astype(float) > 0)]


def _load_time(
    host_cell: dict[str, Any], host: Ceiling, target: Ceiling, perf: PerformanceModel, facts: ModelFacts
) -> dict[str, float | None]:
    """Non-I/O part of loading scaled by per-core compute, plus a cold read of the file at the profile's storage speed."""
    load = _num(host_cell.get("load_time_s"))
    threads = _num(host_cell.get("roofline_threads")) or 1.0
    if load is None or not perf.storage_read_mbs:
        return range_values("load_time_s", None, None, None)
    per_core_ratio = (host.gflops / threads) / perf.cpu_gflops_per_core
    cpu_part = load * per_core_ratio
    read = facts.file_bytes / (perf.storage_read_mbs * 1e6)
    return range_values("load_time_s", cpu_part + read, cpu_part * LOAD_BAND[0] + read, cpu_part * LOAD_BAND[1] + read)


def _row(model: str, tier: str, profile: str, status: str, reason: str, cell: dict[str, Any] | None) -> dict[str, Any]:
    """The fields every projection row starts with, then its profile's cell: why not emulated, or where, and its fit."""
    row: dict[str, Any] = {
        "model": model,
        "tier": tier,
        "profile": profile,
        "projected_from": HOST,
        "status": status,
        "reason": reason,
    }
    if cell is not None:
        emulated = cell.get("emulated_on")
        row["not_emulated_reason"] = str(cell.get("reason") or "") if cell.get("status") == "skipped" else None
        row["emulated_on"] = str(emulated) if emulated and not pd.isna(emulated) else None
        row["fit"], row["fit_reason"] = cell.get("fit"), cell.get("fit_reason")
    return row


def project_cell(
    host_cell: dict[str, Any],
    requests: pd.DataFrame,
    profile: HardwareProfile,
    profile_cell: dict[str, Any] | None,
    host_arch: str,
) -> list[dict[str, Any]]:
    """Projection rows (one per scenario point) of one host cell onto one profile, or one row saying why not."""
    model, tier = str(host_cell.get("model")), str(host_cell.get("tier") or "")

    def skip(reason: str) -> list[dict[str, Any]]:
        return [_row(model, tier, profile.name, "not_projected", reason, profile_cell)]

    perf = profile.performance
    if perf is None:
        return skip("profile has no performance figures to project onto")
    if host_cell.get("status") != "ok":
        return skip(f"nothing to project from: {model} on host is {host_cell.get('status')}")
    if ran_on_gpu(host_cell):
        return skip(
            "the host cell ran on a GPU, so its speed is that GPU's; tierbench measures no roofline of the host's "
            "GPU to carry its efficiency from, so none was made (run the model on the host's CPU to project it)"
        )
    path = host_cell.get("model_path")
    if not isinstance(path, str) or not path:
        return skip("no local model file recorded for this cell (a remote API does not run on the device)")
    host = host_ceiling(host_cell)
    if host is None:
        return skip(
            str(host_cell.get("roofline_error") or "no roofline measured in the host cell (no perf scenario ran)")
        )
    dtype = host_cell.get("weights_dtype")
    try:
        facts = model_facts(path, dtype if isinstance(dtype, str) and dtype else None)
    except (OSError, ValueError, KeyError) as exc:
        return skip(f"cannot read {path}: {exc}")
    target = target_ceiling(profile)
    assert target is not None  # performance figures exist
    low, high, why = transfer_band(perf, target.core_gflops is None, host_arch)  # no core figure: a GPU
    measured = _measured(requests, str(host_cell.get("cell_id")))
    if measured.empty:
        return skip("the host cell has no measured perf requests")
    rows: list[dict[str, Any]] = []
    keys = [k for k in ("scenario", "point") if k in measured.columns]
    groups = measured.groupby(keys, sort=False) if keys else [(("", ""), measured)]
    for key, group in groups:
        scenario, point = ((*tuple(key), "", ""))[:2] if isinstance(key, tuple) else (key, "")
        projected = [
            project_request(facts, host, target, *(float(r[k]) for k in MEASURED), band=(low, high))
            for r in group.to_dict("records")
        ]
        row = {
            **_row(model, tier, profile.name, PROJECTED, why, profile_cell),
            "scenario": str(scenario),
            "point": str(point),
            "n_requests": len(projected),
            "prompt_tokens": float(np.mean([p.prompt_tokens for p in projected])),
            "output_tokens": float(np.mean([p.output_tokens for p in projected])),
            "compute_target": target.label,
            "decode_bound": projected[0].decode_bound,
            "prefill_bound": projected[0].prefill_bound,
            "decode_efficiency": float(np.median([p.decode_efficiency for p in projected])),
            "prefill_efficiency": float(np.median([p.prefill_efficiency for p in projected])),
            "host_disturbed": host_disturbed(host_cell),
            "band_low": low,
            "band_high": high,
            **_load_time(host_cell, host, target, perf, facts),
            "basis": f"{perf.basis} figures{'' if perf.verified else ' (unverified)'}; host roofline {host.label}",
        }
        # rates at the central, slowest (low) and fastest (high) transfer; a time's low end comes
        # from the fastest rates and its high end from the slowest
        for figure, rate in (("decode_tps", "decode"), ("prefill_tps", "prefill")):
            row |= range_values(
                figure, *(float(np.median([getattr(getattr(p, rate), e) for p in projected])) for e in MID_LOW_HIGH)
            )
        ttft = [[p.prompt_tokens / getattr(p.prefill, e) for p in projected] for e in MID_FAST_SLOW]
        row |= range_values("ttft_p95_s", *(float(np.percentile(times, 95)) for times in ttft))
        row |= range_values(
            "e2e_p95_s", *(float(np.percentile([_e2e(p, e) for p in projected], 95)) for e in MID_FAST_SLOW)
        )
        # energy and cost per request: idle power over the fastest mean request, full power over the slowest
        seconds = [float(np.mean([_e2e(p, rate) for p in projected])) for rate in ("high", "low")]
        energy = [w * t for w, t in zip((profile.power.idle_watts, profile.power.max_watts), seconds, strict=True)]
        usd = profile.cost
        cost = [
            1000 * (usd.usd_per_hour * t / 3600 + j / J_PER_KWH * usd.usd_per_kwh)
            for t, j in zip(seconds, energy, strict=True)
        ]
        row |= range_values("energy_per_request_j", None, *energy)
        row |= range_values("cost_per_1k_requests_usd", None, *cost)
        rows.append(row)
    return rows


def project_run(
    cells: pd.DataFrame,
    requests: pd.DataFrame,
    profiles: dict[str, HardwareProfile],
    host_arch: str | None = None,
) -> pd.DataFrame:
    """Every host cell projected onto every other profile of the run (the projections table)."""
    arch = host_arch or platform.machine()
    rows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = cells.to_dict("records") if not cells.empty else []  # type: ignore[assignment]
    host_cells = [r for r in records if r.get("profile") == HOST]
    for name, profile in profiles.items():
        if name == HOST:
            continue
        for host_cell in host_cells:
            own = next(
                (r for r in records if r.get("profile") == name and r.get("model") == host_cell.get("model")), None
            )
            rows.extend(project_cell(host_cell, requests, profile, own, arch))
    if not host_cells:
        reason = "no host cell to project from (add host to --profiles)"
        rows.extend(
            _row(str(r.get("model")), str(r.get("tier") or ""), str(r.get("profile")), "not_projected", reason, r)
            for r in records
            if r.get("profile") != HOST
        )
    return pd.DataFrame(rows, columns=PROJECTION_COLUMNS)
