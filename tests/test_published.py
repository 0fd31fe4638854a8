"""Published scores beside ours: the comparison's arithmetic, the catalog's cited figures, and
what the report and ``tierbench compare`` show."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from report_runs import make_run

from harness.catalog import load_catalog
from harness.report.markdown import render_markdown
from harness.report.view import build_view
from harness.results import RunStore
from harness.results.published import TOLERANCE, compare_published

CARD = "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct"


def _pub(benchmark: str, metric: str, value: float) -> dict[str, object]:
    return {"benchmark": benchmark, "metric": metric, "shots": 0, "value": value, "source": CARD, "variant": "v"}


def _score(task: str, metric: str, value: float, half: float) -> dict[str, object]:
    return {"model": "nano", "profile": "host", "task": task, "metric": metric, "value": value,
            "ci_low": value - half, "ci_high": value + half, "n": 200, "status": "ok"}  # fmt: skip


def test_agreement_is_our_interval_widened_by_the_tolerance() -> None:
    meta = {"models": [{"name": "nano", "published": [_pub("piqa", "acc_norm", 0.663), _pub("hellaswag", "acc_norm", 0.409), _pub("arc_easy", "acc", 0.5)]}]}  # fmt: skip
    scores = pd.DataFrame(
        [
            _score("piqa", "acc_norm", 0.60, 0.03),  # 0.57..0.63, +3 pts reaches 0.66 < 0.663: differs
            _score("piqa", "acc", 0.62, 0.03),  # another metric: not compared
            _score("hellaswag", "acc_norm", 0.36, 0.03),  # 0.33..0.39, +3 pts reaches 0.42 >= 0.409: agrees
        ]
    )
    rows = {r.benchmark: r for r in compare_published(meta, scores)}
    assert set(rows) == {"piqa", "hellaswag"}  # arc_easy was not measured: left out, never a zero
    assert rows["piqa"].verdict == "differs" and round(rows["piqa"].difference, 3) == -0.063
    assert rows["hellaswag"].verdict == "agrees" and rows["hellaswag"].source == CARD
    assert TOLERANCE == 0.03


def test_a_figure_published_as_a_mean_of_tasks_is_compared_only_when_every_task_ran() -> None:
    pub = {**_pub("arc_easy", "acc_norm", 0.373), "benchmark": ["arc_easy", "arc_challenge"]}
    meta = {"models": [{"name": "nano", "published": [pub]}]}
    only_easy = pd.DataFrame([_score("arc_easy", "acc_norm", 0.465, 0.069)])
    assert compare_published(meta, only_easy) == []  # half of the mean is not the published figure
    both = pd.DataFrame(
        [_score("arc_easy", "acc_norm", 0.465, 0.069), _score("arc_challenge", "acc_norm", 0.285, 0.062)]
    )
    (row,) = compare_published(meta, both)
    assert row.benchmark == "arc_easy + arc_challenge (mean)" and row.n == 400
    assert row.measured == pytest.approx(0.375)
    # independent tasks: half-width = sqrt(half_1^2 + half_2^2) / 2
    assert row.ci_high - row.measured == pytest.approx((0.069**2 + 0.062**2) ** 0.5 / 2, rel=1e-6)
    assert row.verdict == "agrees"


def test_every_default_published_figure_names_its_source_and_a_real_task() -> None:
    from harness.evaluation.taskdefs import get_taskdef

    published = [(m.name, p) for m in load_catalog(None).models for p in m.published]
    assert {name for name, _ in published} == {"nano", "mini"}
    for _, p in published:
        assert p.source.startswith("https://huggingface.co/") and p.variant
        # the exact name a run records (gsm8k's is exact_match/strict-match): else nothing is ever compared
        for task in [p.benchmark] if isinstance(p.benchmark, str) else p.benchmark:
            assert p.metric in get_taskdef(task).recorded_metrics, (task, p.metric)


def test_report_and_compare_show_published_beside_measured(
    tmp_path: Path, tierbench: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    runs = []
    for name, seed in (("a", 0), ("b", 1)):
        run = make_run(tmp_path / name, seed=seed)
        store = RunStore.open(run)
        meta = store.read_meta()
        nano = next(m for m in meta.models if m["name"] == "nano")
        nano["published"] = [_pub("piqa", "acc", 0.663)]
        store.write_meta(meta)
        runs.append(run)
    view = build_view(runs[1])
    assert view.published and {(p.model, p.benchmark) for p in view.published} == {("nano", "piqa")}
    text = render_markdown(view, [], None)
    assert "### Published vs measured" in text and "published 66.3" in text and CARD in text
    result = tierbench("compare", str(runs[0]), str(runs[1]))
    assert result.returncode == 0, result.stderr
    assert "published vs measured" in result.stdout and "66.3" in result.stdout
