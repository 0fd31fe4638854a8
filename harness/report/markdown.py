"""report.md (templates/report.md.j2): the decision in a few lines, for CI step summaries and pull-request
comments; its filters make every value safe inside a Markdown table cell."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from jinja2 import Environment, PackageLoader, StrictUndefined

from harness.report.cascade import CascadeSection, excluded_text, figure_text
from harness.report.cellview import CellView, Estimate
from harness.report.compare import Comparison
from harness.report.formatting import cost_split_text, energy_text, fmt, fmt_range
from harness.report.ladder import Ladder
from harness.report.metrics import ACCURACY, COST, ENERGY, MEMORY, P95_E2E
from harness.report.recommend import LIMITS, Recommendation
from harness.report.variants import VariantsView
from harness.report.view import RunView
from harness.results.published import comparison_lines
from harness.safetext import one_line

MAX_DELTA_ROWS = 60
# the projected figures' columns, in table order: (projection key, format kind)
PROJECTED_FIGURES = (
    ("decode_tps", "rate"),
    ("prefill_tps", "rate"),
    ("ttft_p95_s", "seconds"),
    ("e2e_p95_s", "seconds"),
    ("load_time_s", "seconds"),
    ("energy_per_request_j", "joules"),
)


def md(value: object) -> str:
    """Text safe inside a Markdown table cell: no pipes, no raw HTML, one line, no control characters."""
    body = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return one_line(body.replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("`", "'"))


def _est(e: Estimate, kind: str, range_first: bool = False) -> str:
    """A figure with its interval; a projected one (``range_first``) its range first, the honest part."""
    if e.value is None:
        return f"— ({md(e.missing)})"
    value, span = fmt(e.value, kind), fmt_range(e.low, e.high, kind)
    if not span:
        return value
    return f"{span} (mid {value})" if range_first else f"{value} ({span})"


def _memory(c: CellView) -> str:
    """Peak memory; a GPU cell's GPU figure says which it is, with host RSS beside it."""
    shown = _est(c.get(MEMORY.key), MEMORY.kind)
    if not c.memory_on_gpu:
        return shown
    return f"{shown} ({md(c.memory_label)}; host RSS {fmt(c.numbers.get('peak_rss_mb'), MEMORY.kind)})"


def _energy(c: CellView) -> str:
    """An estimate is its range; a sensor's figure one value with its source."""
    e = c.get(ENERGY.key)
    return md(energy_text(e.value, e.low, e.high, c.energy_source)) if e.known else _est(e, ENERGY.kind)


def _constraints(view: RunView) -> str:
    c = view.constraints
    given = [
        f"{symbol} {fmt(getattr(c, field), metric.kind)}"
        for field, _, symbol, metric, _ in LIMITS
        if getattr(c, field) is not None
    ]
    return f"{', '.join(given) or 'none'}; objective: {c.objective.replace('_', ' ')} ({md(view.constraints_note)})"


_ENV = Environment(
    loader=PackageLoader("harness.report", "templates"),
    autoescape=False,  # Markdown: the md filter makes each value safe in its table cell
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=StrictUndefined,
)
_ENV.filters.update(md=md, est=_est, span=partial(_est, range_first=True), fmt=fmt, memory=_memory, energy=_energy)
_ENV.globals.update(
    ACCURACY=ACCURACY,
    COST=COST,
    ENERGY=ENERGY,
    MEMORY=MEMORY,
    P95_E2E=P95_E2E,
    MAX_DELTA_ROWS=MAX_DELTA_ROWS,
    PROJECTED_FIGURES=PROJECTED_FIGURES,
    excluded_text=excluded_text,
    figure_text=figure_text,
    cost_split_text=cost_split_text,
)


def render_markdown(
    view: RunView,
    recs: Sequence[Recommendation],
    comparison: Comparison | None,
    ladders: Sequence[Ladder] = (),
    cascade: CascadeSection | None = None,
    variants: Sequence[VariantsView] = (),
) -> str:
    return _ENV.get_template("report.md.j2").render(
        view=view,
        recs=recs,
        comparison=comparison,
        ladders=ladders,
        variants=variants,
        cascade=cascade,
        constraints=_constraints(view),
        published_lines=comparison_lines(view.published),
    )
