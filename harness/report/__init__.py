"""The decision report: a self-contained report.html and a report.md beside it, from a run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.report.recommend import Recommendation, recommend

__all__ = ["Recommendation", "ReportPaths", "recommend", "write_report"]


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    recommendations: tuple[Recommendation, ...] = ()


def write_report(run_dir: Path, baseline: Path | None = None) -> ReportPaths:
    """Write RUN/report.html and RUN/report.md (with deltas against ``baseline`` when given)."""
    from harness.report.cascade import build_cascade_section
    from harness.report.charts import all_charts
    from harness.report.compare import compare_views
    from harness.report.html import render_html
    from harness.report.ladder import build_ladders
    from harness.report.markdown import render_markdown
    from harness.report.projections import recommendation_cells
    from harness.report.variants import build_variants
    from harness.report.view import build_view
    from harness.results.store import atomic_write_bytes

    view = build_view(run_dir)
    comparison = compare_views(view, build_view(baseline)) if baseline is not None else None
    recommendations = recommend(recommendation_cells(view.cells, view.projections), view.constraints)
    charts = all_charts(view.cells, view.scores, view.requests)
    ladders = build_ladders(view)
    variants = build_variants(view)
    cascade = build_cascade_section(run_dir, view.constraints)
    paths = ReportPaths(run_dir / "report.html", run_dir / "report.md", tuple(recommendations))
    html = render_html(view, recommendations, charts, comparison, ladders=ladders, cascade=cascade, variants=variants)
    atomic_write_bytes(paths.html, html.encode("utf-8"))
    markdown = render_markdown(view, recommendations, comparison, ladders=ladders, cascade=cascade, variants=variants)
    atomic_write_bytes(paths.markdown, markdown.encode("utf-8"))
    return paths
