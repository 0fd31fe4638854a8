"""The metric registry: every figure a run records, with its unit, which way is better, a label and
one glossary sentence. The report's glossary, the gate's metric names and the latency columns come from
here (docs/metrics.md is the long form). A leaf module: it imports nothing from tierbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]
# What a figure measures. Timing and throughput depend on the machine's speed, so the gate compares
# them only between runs on the same hardware (harness/gate/hardware.py); the others do not.
Kind = Literal["timing", "throughput", "memory", "energy", "cost", "count"]
SPEED_KINDS: frozenset[Kind] = frozenset({"timing", "throughput"})


@dataclass(frozen=True)
class Metric:
    """One recorded figure: its column, kind, unit, better direction (None: a count, not a merit), label, definition."""

    column: str
    kind: Kind
    unit: str
    better: Better | None
    label: str
    glossary: str


def _metrics(*rows: tuple[str, Kind, str, Better | None, str, str]) -> tuple[Metric, ...]:
    return tuple(Metric(*row) for row in rows)


# One value per measured request (requests.parquet).
REQUEST_METRICS = _metrics(
    ("ttft_s", "timing", "s", "lower", "TTFT", "Time to first token: from submitting the request to the first answer token being available to the caller (a reasoning model's thinking is not an answer)."),
    ("e2e_s", "timing", "s", "lower", "E2E latency", "End-to-end latency: from submitting the request to the last output token being available to the caller."),
    ("tpot_s", "timing", "s", "lower", "TPOT", "Time per output token, per request: (E2E - TTFT) / (visible tokens - 1), so the first token and hidden reasoning are not counted."),
    ("decode_tps", "throughput", "tok/s", "higher", "decode tok/s", "Decode throughput, per request: (output tokens - 1) / (E2E - TTFT), in tokens per second, reasoning tokens included where the server reports them (timed from the first reasoning token, or from submission when the reasoning is hidden); not given for an answer held back and sent at once (a cascade tier's)."),
    ("prefill_tps", "throughput", "tok/s", "higher", "prefill tok/s", "Prefill throughput, per request: prompt tokens / TTFT, in tokens per second; not given where TTFT holds more than the prefill (a cascade's held-back or escalated answer, a reasoning model's hidden thinking)."),
    ("first_byte_s", "timing", "s", "lower", "first byte", "Time to first byte: from submitting the request to the stream's first event of any kind (a role, a reasoning token, an answer token)."),
    ("first_reasoning_s", "timing", "s", "lower", "first reasoning token", "Time to the first reasoning token, where the server streams its reasoning (vLLM, SGLang, llama.cpp's server); TTFT is the first answer token."),
)  # fmt: skip

# One value per (model, profile) cell (cells.parquet).
CELL_METRICS = _metrics(
    ("load_time_s", "timing", "s", "lower", "load time", "Cold start: from the cell's process starting to the model being ready for its first request; never part of request latency."),
    ("model_load_s", "timing", "s", "lower", "model load", "The backend's load call alone (reading weights, building the runtime), a part of load time."),
    ("peak_rss_mb", "memory", "MiB", "lower", "peak memory", "Peak resident memory of the cell's own process: the kernel's high-water mark (VmHWM), in MiB."),
    ("peak_anon_mb", "memory", "MiB", "lower", "peak anonymous memory", "Peak anonymous resident memory (heap, KV cache, buffers) of the cell's process, sampled every 20 ms, in MiB."),
    ("peak_file_mb", "memory", "MiB", "lower", "peak file-backed memory", "Peak file-backed resident memory (mmap'd model weights, shared and reclaimable) of the cell's process, sampled every 20 ms, in MiB."),
    ("model_file_mb", "memory", "MiB", None, "model file", "Size of the model file on disk, in MiB."),
    ("gpu_peak_allocated_mb", "memory", "MiB", "lower", "GPU tensors", "Peak GPU memory held by PyTorch tensors (torch.cuda.max_memory_allocated), in MiB."),
    ("gpu_peak_reserved_mb", "memory", "MiB", "lower", "GPU reserved", "Peak GPU memory held by PyTorch's caching allocator (torch.cuda.max_memory_reserved), in MiB."),
    ("gpu_process_mb", "memory", "MiB", "lower", "GPU process", "GPU memory the driver charges the cell's process (NVML), including the CUDA context, in MiB."),
    ("cpu_time_s", "timing", "s", "lower", "CPU time", "User + system CPU seconds of the cell's process (all its threads, and children it waited for), over the whole cell."),
    ("energy_j", "energy", "J", "lower", "energy", "Energy used during the cell, in joules: measured by a sensor, or the midpoint of the estimate's range."),
    ("energy_idle_j", "energy", "J", None, "idle energy", "Idle baseline: idle power (measured before the work, or the profile's idle watts) times the cell's duration, in joules."),
    ("energy_dynamic_j", "energy", "J", "lower", "dynamic energy", "Energy above the idle baseline: energy_j - energy_idle_j, in joules."),
    ("energy_per_request_j", "energy", "J", "lower", "energy / request", "Energy per measured request: the cell's mean power (energy_j / cell duration) times seconds_per_request; an estimate keeps its range."),
    ("energy_per_token_j", "energy", "J", "lower", "energy / token", "Energy per output token: energy_per_request_j / mean output tokens of the cell's measured requests."),
    ("seconds_per_request", "timing", "s", "lower", "seconds / request", "Machine seconds per measured request: mean of E2E / concurrency level, the basis of a local model's cost."),
    ("cost_per_1k_requests_usd", "cost", "USD", "lower", "cost / 1k requests", "What 1,000 requests cost: API list prices for API models, the profile's hourly and electricity prices for local models."),
    ("cost_per_mtok_usd", "cost", "USD", "lower", "cost / Mtok", "What a million output tokens cost: the cost of one request / its mean output tokens x 10^6."),
    ("energy_cost_per_1k_requests_usd", "cost", "USD", "lower", "energy cost / 1k requests", "The electricity part of the cost of 1,000 requests: 1000 x energy_per_request_j at the profile's price per kWh."),
    ("n_requests", "count", "", None, "requests", "Measured requests, failed ones included (n_errors counts those); warm-up and failed requests are excluded from every latency statistic."),
    ("warmup_requests", "count", "", None, "warm-ups", "Warm-up requests sent before the measured ones at each scenario point; counted, never measured."),
    ("n_errors", "count", "", None, "errors", "Measured requests that failed; they count towards the error rate, not the latency percentiles."),
)  # fmt: skip

REGISTRY: dict[str, Metric] = {m.column: m for m in (*REQUEST_METRICS, *CELL_METRICS)}
REQUEST_COLUMNS = tuple(m.column for m in REQUEST_METRICS)

# Glossary terms that are not metrics of their own.
TERMS: dict[str, str] = {
    "itl_s": "Inter-token latency: the gap between consecutive output tokens (TTFT excluded), pooled over all tokens; a chunk of k tokens shares its gap equally among them.",
    "p50/p90/p95/p99": "Percentiles by linear interpolation between the closest ranks (numpy's default), always shown with their count.",
    "std": "Sample standard deviation (n - 1 in the denominator); 0 for a single value.",
    "energy_source": "Where the energy figure comes from: rapl (CPU package + DRAM counters), nvml (GPU counters), rapl+nvml, estimate (the hardware profile's power model), or none.",
    "energy_scope": "What the energy figure covers, e.g. the CPU package and DRAM, one GPU, or the whole device as modelled.",
    "energy_j_low/high": "Bounds of an estimated energy figure (idle part +/-10 %, dynamic part +/-30 %); empty for sensor readings.",
}  # fmt: skip


def is_speed(column: str) -> bool:
    """A timing or throughput figure (it measures the machine's speed as much as the model's)."""
    metric = REGISTRY.get(column)
    return metric is not None and metric.kind in SPEED_KINDS


def glossary() -> dict[str, str]:
    """Every metric's definition and the other terms, for the report."""
    return {**{m.column: m.glossary for m in REGISTRY.values()}, **TERMS}
