"""One-sentence definitions of every reported metric; the report's glossary is generated from here.

docs/metrics.md is the long form; ``tests/test_latency_math.py`` checks the latency definitions.
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    "ttft_s": "Time to first token: from submitting the request to the first output token being available to the caller.",
    "e2e_s": "End-to-end latency: from submitting the request to the last output token being available to the caller.",
    "itl_s": "Inter-token latency: the gap between consecutive output tokens (TTFT excluded), pooled over all tokens; a chunk of k tokens shares its gap equally among them.",
    "tpot_s": "Time per output token, per request: (E2E - TTFT) / (output tokens - 1), so the first token is not counted.",
    "decode_tps": "Decode throughput, per request: (output tokens - 1) / (E2E - TTFT), in tokens per second.",
    "prefill_tps": "Prefill throughput, per request: prompt tokens / TTFT, in tokens per second.",
    "load_time_s": "Cold start: from the cell's process starting to the model being ready for its first request; never part of request latency.",
    "model_load_s": "The backend's load call alone (reading weights, building the runtime), a part of load time.",
    "n_requests": "Measured requests that completed; warm-up requests and failed requests are excluded from every latency statistic.",
    "warmup_requests": "Warm-up requests sent before the measured ones at each scenario point; counted, never measured.",
    "n_errors": "Measured requests that failed; they count towards the error rate, not the latency percentiles.",
    "p50/p90/p95/p99": "Percentiles by linear interpolation between the closest ranks (numpy's default), always shown with their count.",
    "std": "Sample standard deviation (n - 1 in the denominator); 0 for a single value.",
    "peak_rss_mb": "Peak resident memory of the cell's own process: the kernel's high-water mark (VmHWM), in MiB.",
    "peak_anon_mb": "Peak anonymous resident memory (heap, KV cache, buffers) of the cell's process, sampled every 20 ms, in MiB.",
    "peak_file_mb": "Peak file-backed resident memory (mmap'd model weights, shared and reclaimable) of the cell's process, sampled every 20 ms, in MiB.",
    "model_file_mb": "Size of the model file on disk, in MiB.",
    "gpu_peak_allocated_mb": "Peak GPU memory held by PyTorch tensors (torch.cuda.max_memory_allocated), in MiB.",
    "gpu_peak_reserved_mb": "Peak GPU memory held by PyTorch's caching allocator (torch.cuda.max_memory_reserved), in MiB.",
    "gpu_process_mb": "GPU memory the driver charges the cell's process (NVML), including the CUDA context, in MiB.",
    "energy_source": "Where the energy figure comes from: rapl (CPU package + DRAM counters), nvml (GPU counters), rapl+nvml, estimate (the hardware profile's power model), or none.",
    "energy_scope": "What the energy figure covers, e.g. the CPU package and DRAM, one GPU, or the whole device as modelled.",
    "energy_j": "Energy used during the cell, in joules: measured by a sensor, or the midpoint of the estimate's range.",
    "energy_j_low/high": "Bounds of an estimated energy figure (idle part +/-10 %, dynamic part +/-30 %); empty for sensor readings.",
    "energy_idle_j": "Idle baseline: idle power (measured before the work, or the profile's idle watts) times the cell's duration, in joules.",
    "energy_dynamic_j": "Energy above the idle baseline: energy_j - energy_idle_j, in joules.",
    "j_per_request": "Energy per measured request: energy_j / n_requests.",
    "j_per_token": "Energy per output token: energy_j / output tokens of the cell.",
}
