"""The decision report from synthetic run directories that cover every cell state."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_runs import make_run, synthetic_meta

from harness.cli.main import cli
from harness.report import write_report
from harness.report.charts import all_charts, pareto_front, tradeoff_chart
from harness.report.metrics import COST, HEADLINE, P95_E2E
from harness.report.view import build_view
from harness.results import RunStore


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def html(run_dir: Path) -> str:
    return write_report(run_dir).html.read_text(encoding="utf-8")


class _Scan(HTMLParser):
    """Collects what could make a browser fetch something: attributes, tags, style and script text."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[str] = []
        self.tags: set[str] = set()
        self.code: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [v or "" for _, v in attrs]
        self._in = tag if tag in ("style", "script") else None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.code.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_missing_headline_value_has_a_reason(run_dir: Path) -> None:
    view = build_view(run_dir)
    assert {c.status for c in view.cells} == {"ok", "failed", "skipped", "does_not_fit"}
    for cell in view.cells:
        for metric in HEADLINE:
            estimate = cell.get(metric.key)
            assert estimate.known or estimate.missing, (cell.label, metric.key)
    nano = view.cell("nano", "laptop")
    assert nano is not None and nano.get("accuracy").low is not None
    assert nano.tasks_scored == 2 and nano.tasks_total == 3  # truthfulqa is unsupported


def test_page_explains_failed_skipped_unfit_estimated_and_emulated_cells(html: str) -> None:
    text = _visible_text(html)
    assert not re.search(r"\b(NaN|nan|None|null|undefined)\b", text)
    assert "OPENAI_API_KEY is not set" in text  # failed
    assert "API tiers are not run on device profiles" in text  # skipped
    assert "needs 380 MB, the profile allows 300 MB" in text  # does_not_fit
    assert "estimated from the profile's power model" in text
    assert "edge was emulated on ci-host" in text
    assert "needs log-likelihoods; backend only generates" in text  # unsupported task
    assert "No tier meets the constraints" in text  # the edge profile
    assert "Runner-up" in text and "Confidence:" in text


def test_every_chart_is_drawn_or_explained(run_dir: Path, html: str) -> None:
    view = build_view(run_dir)
    for chart in all_charts(view.cells, view.scores):
        assert chart.svg or chart.note.startswith("Nothing to draw"), chart.key
    assert html.count('<svg class="chart"') == 6
    assert 'id="results-table"' in html and 'id="scores-table"' in html and 'id="latency-table"' in html


def test_page_references_nothing_outside_itself(html: str) -> None:
    scan = _Scan()
    scan.feed(html)
    assert not scan.tags & {"link", "img", "iframe", "object", "embed", "base", "audio", "video", "source"}
    assert not [a for a in scan.attributes if "://" in a or a.strip().lower().startswith(("//", "javascript:"))]
    assert not [c for c in scan.code if "://" in c or "@import" in c or "url(" in c]
    assert not re.search(r"https?://", html)  # not even SVG namespaces


def test_hostile_model_output_is_shown_as_text(tmp_path: Path) -> None:
    run = make_run(tmp_path / "hostile", hostile=True)
    paths = write_report(run)
    page = paths.html.read_text(encoding="utf-8")
    assert page.count("<script") == 1  # only the table sorter
    assert "<img" not in page and "<b>gsm8k</b>" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;gsm8k&lt;/b&gt;" in page  # a hostile task name in tables and chart labels
    summary = paths.markdown.read_text(encoding="utf-8")
    assert "<script" not in summary and "&lt;script&gt;" in summary


def test_one_hundred_thousand_samples_keep_the_page_small(tmp_path: Path) -> None:
    run = make_run(tmp_path / "big", extra_samples=100_000)
    page = write_report(run).html.read_text(encoding="utf-8")
    assert len(page.encode()) < 1_500_000
    assert "of 100,240 scored items" in page
    assert 'href="samples.jsonl"' in page


def test_run_without_cells_or_tables_renders(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path / "empty")
    store.write_meta(synthetic_meta("empty", suite={"name": "empty", "tasks": []}))
    page = write_report(store.root).html.read_text(encoding="utf-8")
    text = _visible_text(page)
    assert "This run has no cells" in text
    assert "Nothing to draw" in text
    assert not re.search(r"\b(NaN|nan|None)\b", text)


def test_cells_without_cost_say_why(tmp_path: Path) -> None:
    view = build_view(make_run(tmp_path / "nocost", with_cost=False))
    nano = view.cell("nano", "laptop")
    assert nano is not None and "no API price" in nano.get(COST.key).missing
    chart = tradeoff_chart(view.cells, COST)
    assert chart.svg is None and "no API price" in chart.note


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [(1.0, 0.5), (2.0, 0.7), (1.5, 0.4), (3.0, 0.7), (0.5, 0.2)]
    assert pareto_front(points) == [(0.5, 0.2), (1.0, 0.5), (2.0, 0.7)]


def test_chart_svg_ids_are_unique_per_chart(run_dir: Path) -> None:
    view = build_view(run_dir)
    a, b = tradeoff_chart(view.cells, P95_E2E), tradeoff_chart(view.cells, COST)
    ids = lambda svg: set(re.findall(r'id="([^"]+)"', svg))  # noqa: E731
    assert a.svg and b.svg and not ids(a.svg) & ids(b.svg)


def test_markdown_summary(run_dir: Path, html: str) -> None:
    summary = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "### Recommendation" in summary and "| laptop | **mini** |" in summary
    assert "| edge | **none meets the constraints** |" in summary
    assert "### Caveats" in summary and "est." in summary
    assert "nan" not in summary.lower().split()


def test_cli_report_writes_and_prints_paths(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(run_dir / "report.html"), str(run_dir / "report.md")]
    missing = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such run directory" in missing.output
    same = CliRunner().invoke(cli, ["report", str(run_dir), "--baseline", str(run_dir)])
    assert same.exit_code == 2 and "--baseline" in same.output
    assert CliRunner().invoke(cli, ["report", "--help"]).exit_code == 0
