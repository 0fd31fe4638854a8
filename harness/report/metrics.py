"""The headline metrics the report compares tiers on: label, unit, and which direction is better."""

from __future__ import annotations

from dataclasses import dataclass

# The metric that stands for a task's accuracy, in order of preference.
PRIMARY_METRICS = ("acc", "exact_match", "pass", "pass@1", "follow", "field_acc", "f1", "rougeL", "acc_norm")


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    kind: str  # a formatting.FORMATTERS key
    higher_is_better: bool
    axis_label: str


ACCURACY = MetricInfo("accuracy", "Accuracy", "percent", True, "accuracy (mean over tasks)")
P95_E2E = MetricInfo("p95_e2e_s", "p95 E2E latency", "seconds", False, "p95 end-to-end latency (s)")
P95_TTFT = MetricInfo("p95_ttft_s", "p95 TTFT", "seconds", False, "p95 time to first token (s)")
# keyed by the host RSS column, it holds a GPU cell's GPU memory (harness.results.memoryfigure); views label which
MEMORY = MetricInfo("peak_rss_mb", "Peak memory", "megabytes", False, "peak memory (MB; GPU memory for a GPU cell)")
ENERGY = MetricInfo("energy_per_request_j", "Energy / request", "joules", False, "energy per request (J)")
COST = MetricInfo("cost_per_1k_requests_usd", "Cost / 1k requests", "dollars", False, "cost per 1k requests (USD)")

HEADLINE: tuple[MetricInfo, ...] = (ACCURACY, P95_E2E, P95_TTFT, MEMORY, ENERGY, COST)


def primary_metric(metrics: list[str]) -> str | None:
    """The metric that stands for a task's accuracy (the same choice as the terminal summary and gate)."""
    return next((m for m in PRIMARY_METRICS if m in metrics), metrics[0] if metrics else None)
