"""The columns of each results table. Report, gate and compare rely on these names."""

from __future__ import annotations

CELL_KEY = ["model", "profile"]

# One row per (model, profile) cell.
CELL_COLUMNS = [
    "cell_id",
    "model",
    "tier",
    "backend",
    "profile",
    "status",
    "reason",
    "emulated_on",
    "threads",
    "memory_budget_mb",
    "load_time_s",
    "model_load_s",
    "model_file_mb",
    "peak_rss_mb",
    "peak_anon_mb",
    "peak_file_mb",
    # the same peaks after load and perf scenarios, before the evaluation stack is imported
    "serving_peak_rss_mb",
    "serving_peak_anon_mb",
    "serving_peak_file_mb",
    "energy_source",
    "energy_scope",
    "energy_j",
    "energy_j_low",
    "energy_j_high",
    "energy_idle_j",
    "energy_dynamic_j",
    "energy_notes",
    "gpu_peak_allocated_mb",
    "gpu_peak_reserved_mb",
    "gpu_process_mb",
    "cpu_time_s",
    "duration_s",
    "n_requests",
    "n_errors",
    "warmup_requests",
    "started_at",
    "finished_at",
    # hardware-profile limits (harness.runner.limits; docs/profiles.md)
    "cpus",
    "limit_mechanism",
]

# Fit verdict and cost per model x profile, added by harness.fitcost (docs/profiles.md).
FIT_COLUMNS = ["fit", "fit_reason", "fit_required_mb"]
COST_COLUMNS = [
    "cost_basis",
    "seconds_per_request",
    "cost_per_1k_requests_usd",
    "cost_per_mtok_usd",
    "energy_per_request_j",
    "energy_per_request_j_low",
    "energy_per_request_j_high",
    "energy_per_token_j",
    "energy_cost_per_1k_requests_usd",
]
FITCOST_COLUMNS = [*FIT_COLUMNS, *COST_COLUMNS, "slowdown_vs_host"]
CELL_COLUMNS += FITCOST_COLUMNS
# The cell's own machine roofline, measured after its perf scenarios (harness.meters.roofline).
ROOFLINE_COLUMNS = [
    "roofline_threads",
    "roofline_bandwidth_gbs",
    "roofline_gflops",
    "roofline_single_bandwidth_gbs",
    "roofline_error",
    "model_path",
]
CELL_COLUMNS += ROOFLINE_COLUMNS

# One row per measured request of a perf scenario (warm-ups kept, flagged).
REQUEST_COLUMNS = [
    "cell_id",
    "model",
    "profile",
    "scenario",
    "point",
    "repetition",
    "index",
    "warmup",
    "concurrency",
    "prompt_tokens",
    "output_tokens",
    "ttft_s",
    "e2e_s",
    "tpot_s",
    "decode_tps",
    "prefill_tps",
    "token_count_source",
    "error",
    "scheduled_s",
    "dispatch_delay_s",
]

# One row per (cell, task, metric).
SCORE_COLUMNS = [
    "cell_id",
    "model",
    "profile",
    "task",
    "metric",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "n",
    "status",
    "reason",
]

# samples.jsonl records: cell_id, model, profile, task, doc_id, prompt, response, target, correct,
# score, latency_s, prompt_tokens, output_tokens.
SAMPLE_FIELDS = [
    "cell_id",
    "model",
    "profile",
    "task",
    "doc_id",
    "prompt",
    "response",
    "target",
    "correct",
    "score",
    "latency_s",
    "prompt_tokens",
    "output_tokens",
]

# One row per point of a load scenario (concurrency level or request rate) on a server backend.
LOAD_COLUMNS = [
    "cell_id",
    "model",
    "profile",
    "scenario",
    "kind",
    "point",
    "repetition",
    "concurrency",
    "rate",
    "skipped",
    "requests_planned",
    "requests_sent",
    "requests_ok",
    "requests_failed",
    "error_rate",
    "achieved_rate_rps",
    "throughput_rps",
    "output_tps",
    "goodput_rps",
    "slo_attainment",
    "ttft_p95_s",
    "e2e_p95_s",
    "tpot_p50_s",
    "dispatch_delay_p95_s",
    "dispatch_delay_max_s",
    "stopped_by",
    "top_errors",
    "cost_usd",
]

# One row per (model, profile, scenario, point) projected from a host cell onto a profile's
# roofline (harness.projection; docs/profiles.md). Never mixed into the measured tables.
PROJECTION_COLUMNS = [
    "model",
    "tier",
    "profile",
    "projected_from",
    "status",
    "reason",
    "not_emulated_reason",
    "emulated_on",
    "scenario",
    "point",
    "n_requests",
    "prompt_tokens",
    "output_tokens",
    "compute_target",
    "decode_bound",
    "prefill_bound",
    "decode_efficiency",
    "prefill_efficiency",
    "host_disturbed",
    "band_low",
    "band_high",
    "decode_tps",
    "decode_tps_low",
    "decode_tps_high",
    "prefill_tps",
    "prefill_tps_low",
    "prefill_tps_high",
    "ttft_p95_s",
    "ttft_p95_s_low",
    "ttft_p95_s_high",
    "e2e_p95_s",
    "e2e_p95_s_low",
    "e2e_p95_s_high",
    "load_time_s",
    "load_time_s_low",
    "load_time_s_high",
    "energy_per_request_j_low",
    "energy_per_request_j_high",
    "cost_per_1k_requests_usd_low",
    "cost_per_1k_requests_usd_high",
    "fit",
    "fit_reason",
    "basis",
]

TABLES = ("cells", "requests", "scores", "load", "projections")
