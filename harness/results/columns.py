"""The columns of each results table. Report, gate and compare rely on these names."""

from __future__ import annotations

from harness import metrics
from harness.config.models import BASE_MODEL, LADDER, VARIANT
from harness.results.schema import CellOutcome, CellResult


def range_columns(figure: str) -> tuple[str, str, str]:
    """The columns of a figure given as a point and a band: its value, low end and high end."""
    return figure, f"{figure}_low", f"{figure}_high"


def range_values(figure: str, value: float | None, low: float | None, high: float | None) -> dict[str, float | None]:
    """A row's three columns of a ranged figure, by :func:`range_columns`' names."""
    return dict(zip(range_columns(figure), (value, low, high), strict=True))


# Fit verdict and cost per model x profile, added by harness.fitcost (docs/profiles.md).
FIT_COLUMNS = ["fit", "fit_reason", "fit_required_mb"]
# An API model's cost of 1,000 requests by part: fresh input, cached input, visible output, reasoning
# (config.models.CostSplit's parts, in its order; docs/metrics.md)
COST_SPLIT_COLUMNS = [
    "cost_input_per_1k_usd",
    "cost_cached_per_1k_usd",
    "cost_visible_per_1k_usd",
    "cost_reasoning_per_1k_usd",
]
COST_COLUMNS = [
    "cost_basis",
    "seconds_per_request",
    "cost_per_1k_requests_usd",
    *COST_SPLIT_COLUMNS,
    "cost_per_mtok_usd",
    *range_columns("energy_per_request_j"),
    "energy_per_token_j",
    "energy_cost_per_1k_requests_usd",
]
FITCOST_COLUMNS = [*FIT_COLUMNS, *COST_COLUMNS, "slowdown_vs_host"]

# Labels a catalog gives a model (a quantization rung's type, bits per weight, source), copied into
# the cells table so every reader can show them beside the name (docs/quantization.md).
QUANT_TYPE = "quant_type"
BPW = "bits_per_weight"
FILE_MB = "quant_file_mb"
SOURCE = "quant_source"
REQUANTIZED_FROM = "requantized_from"
DESCRIPTION = "quant_label"
# and every expanded model's base model and variant (docs/variants.md)
LABEL_COLUMNS = [LADDER, QUANT_TYPE, BPW, FILE_MB, SOURCE, REQUANTIZED_FROM, DESCRIPTION, BASE_MODEL, VARIANT]

# One row per (model, profile) cell: the plan (harness.runner.collect), what the worker measured
# (CellResult) and how the parent saw it end (CellOutcome), the request counts, fit/cost and labels.
# backend_info goes to meta.json; notes were never declared (a column only where a worker wrote them).
_PLAN_COLUMNS = ["cell_id", "model", "tier", "backend", "profile", "emulated_on", "memory_budget_mb"]
_COUNT_COLUMNS = ["n_requests", "n_errors", "warmup_requests", "started_at", "finished_at", "client_limited_points"]
_MEASURED_COLUMNS = [*CellResult.model_fields, *CellOutcome.model_fields]
CELL_COLUMNS = [
    c
    for c in dict.fromkeys([*_PLAN_COLUMNS, *_MEASURED_COLUMNS, *_COUNT_COLUMNS, *FITCOST_COLUMNS, *LABEL_COLUMNS])
    if c not in ("backend_info", "notes")
]

# Of a request's output tokens, the answer's and the hidden reasoning's; of its prompt tokens, those read from
# the server's cache; whether it ran out of tokens before any answer (docs/metrics.md, "Reasoning models").
TOKEN_SPLIT_COLUMNS = ["visible_tokens", "reasoning_tokens", "cached_tokens", "truncated_reasoning"]

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
    *TOKEN_SPLIT_COLUMNS,
    *metrics.REQUEST_COLUMNS,
    "token_count_source",
    "error",
    "scheduled_s",
    "dispatch_delay_s",
    # on the last measured request of a grid point: why it stopped and the relative half-width of
    # the 95% interval of its median E2E then (harness.runner.precision; docs/metrics.md)
    "stop_reason",
    "median_ci_rel",
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
    # the client's p95 dispatch delay exceeded the scenario's client_limited_share of the median TTFT;
    # over-saturated (open loop): completions fell behind the rate while TTFT grew; knee: a sweep's last point below
    "ttft_p50_s",
    "client_limited",
    "saturated",
    "knee",
    "stopped_by",
    "top_errors",
    "cost_usd",
]

# One row per model with a fidelity reference: its next-token fidelity to the source model.
FIDELITY_COLUMNS = [
    "model",
    "ladder",
    "quant_type",
    "reference",
    "text",
    "tokens",
    "positions",
    "block_tokens",
    "kl_mean",
    "kl_ci_low",
    "kl_ci_high",
    "kl_p99",
    "top1_agreement",
    "top1_ci_low",
    "top1_ci_high",
    "ppl",
    "ppl_ci_low",
    "ppl_ci_high",
    "ppl_reference",
    "ppl_reference_ci_low",
    "ppl_reference_ci_high",
    "status",
    "reason",
]


# Figures a projection gives as a point and a band (energy and cost as a band only: value NA).
PROJECTED_FIGURES = (
    "decode_tps",
    "prefill_tps",
    "ttft_p95_s",
    "e2e_p95_s",
    "load_time_s",
    "energy_per_request_j",
    "cost_per_1k_requests_usd",
)
PROJECTED_RANGES = tuple(column for figure in PROJECTED_FIGURES for column in range_columns(figure))

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
    *PROJECTED_RANGES,
    "fit",
    "fit_reason",
    "basis",
]
