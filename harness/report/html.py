"""Render the view model as one self-contained HTML page (jinja2, autoescape on, inline CSS/JS/SVG)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.config.models import TIER_ORDER
from harness.metrics import glossary
from harness.report.cascade import CascadeSection, excluded_text, figure_text
from harness.report.cellview import CellView, not_run_why
from harness.report.charts import Chart
from harness.report.compare import Comparison
from harness.report.formatting import cost_split_text, fmt, fmt_range, text
from harness.report.ladder import Ladder
from harness.report.recommend import LIMITS, Recommendation
from harness.report.samples import PER_TASK
from harness.report.variants import VariantsView
from harness.report.view import RunView
from harness.results.published import TOLERANCE

# Terms the report itself introduces, next to the metric registry's definitions (harness.metrics).
REPORT_TERMS: dict[str, str] = {
    "accuracy": "Mean over the suite's tasks of each task's primary metric (e.g. acc, exact_match); its 95% CI combines the tasks' standard errors.",
    "p95 E2E / p95 TTFT": "95th percentile of end-to-end latency / time to first token over a cell's measured requests; the interval is a percentile bootstrap (500 resamples).",
    "KL divergence": "Of a quantization rung's next-token distribution from its source's, averaged over the positions of a fixed text: sum over the vocabulary of P_source * (log P_source - log P_rung), in nats (docs/quantization.md).",
    "top-token agreement": "Share of the text's positions where a rung's most likely next token is the source's.",
    "bits per weight": "A GGUF file's tensor bytes x 8 divided by its parameter count (embeddings and norms included), read from the file.",
    "Pareto frontier": "The tiers (or variants) that no other tier (or variant) on the same profile beats on both axes of a trade-off chart.",
    "emulated profile": "A profile run on this host under thread and memory caps; its figures approximate the device, they are not measured on it.",
    "cascade": "Cheapest tier first; an item escalates to the next tier when its confidence is below that tier's threshold, and every tier tried is paid. Replayed from the tiers' own samples (docs/cascade.md).",
    "PGR / APGR / CPT": "Performance gap recovered (share of the last tier's accuracy gain over the first), its average over the curve, and the share of requests reaching the last tier needed to recover 50% / 80% of the gap (RouteLLM's definitions).",
    "significance markers": "▲/▼ significantly better/worse than the baseline (* p<0.05, ** p<0.01); ≈ no significant change; · not tested. The same tests as 'tierbench gate': accuracy by McNemar's mid-p test on the items both runs scored, with a paired-bootstrap interval; latency by a bootstrap over requests stratified by scenario point, with the interval of the ratio.",
}
WIDE_CHARTS = ("tier-scaling", "per-task")
_ENV = Environment(
    loader=PackageLoader("harness.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _why(cell: CellView, key: str) -> str:
    return not_run_why(cell.status) if not cell.ran else "not recorded for this cell"


def _flat(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as (dotted key, value) rows; lists and scalars as text, empty values left out."""
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in _flat(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(data, list):
        body = ", ".join(json.dumps(v, default=str) if isinstance(v, dict | list) else text(v) for v in data)
        return [(prefix, body)] if data else []
    return [(prefix, text(data))] if text(data) != "" else []


def _constraint_items(view: RunView) -> list[tuple[str, str]]:
    c = view.constraints
    rows = [
        (title, "not set" if getattr(c, field) is None else fmt(getattr(c, field), metric.kind))
        for field, title, _, metric, _ in LIMITS
    ]
    return [*rows, ("Objective", c.objective.replace("_", " "))]


def _run_items(view: RunView) -> list[tuple[str, str]]:
    meta = view.meta.model_dump(mode="json")
    keep = ("run_id", "status", "created_at", "finished_at", "tierbench_version", "git_revision")
    rows = [(k, text(meta[k])) for k in keep if text(meta.get(k))]
    rows += [
        ("run directory", str(view.run_dir)),
        ("suite", view.suite_name),
        ("tasks", ", ".join(view.tasks) or "none"),
    ]
    return rows + _flat(meta.get("options") or {}, "options")


def render_html(
    view: RunView,
    recommendations: Sequence[Recommendation],
    charts: Sequence[Chart],
    comparison: Comparison | None,
    ladders: Sequence[Ladder] = (),
    cascade: CascadeSection | None = None,
    variants: Sequence[VariantsView] = (),
) -> str:
    packages = view.meta.host.get("packages")
    packages = packages if isinstance(packages, dict) else {}
    return _ENV.get_template("report.html.j2").render(
        view=view,
        recommendations=recommendations,
        charts=charts,
        comparison=comparison,
        ladders=ladders,
        variants=variants,
        published_tolerance=TOLERANCE,
        cascade=cascade,
        cascade_figure=figure_text,
        cascade_excluded=excluded_text,
        wide_charts=WIDE_CHARTS,
        constraint_items=_constraint_items(view),
        profile_emulated={c.profile: c.emulated_on for c in view.cells if c.emulated_on},
        tier_order=TIER_ORDER,
        run_items=_run_items(view),
        host_items=_flat({k: v for k, v in view.meta.host.items() if k != "packages"}),
        package_items=[(k, text(v) or "not installed") for k, v in packages.items()],
        profile_items=[(name, _flat(spec)) for name, spec in view.profiles.items()],
        model_items=[(name, _flat(spec)) for name, spec in view.models.items()]
        + [(f"{cell} (runtime)", _flat(info)) for cell, info in view.meta.backends.items()],
        glossary=sorted({**glossary(), **REPORT_TERMS}.items(), key=lambda kv: kv[0].lower()),
        per_task=PER_TASK,
        version=version("tierbench"),
        fmt=fmt,
        fmt_range=fmt_range,
        cost_split_text=cost_split_text,
        why=_why,
    )
