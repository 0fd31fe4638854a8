"""The report's view model, read from the run directory's tables only (never from a backend); every
missing value carries its reason, so no page ever says NaN or leaves a blank."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.config.suite import Constraints
from harness.report.caveats import run_caveats
from harness.report.cellview import Caveat, CellView, LatencyRow, TaskScore
from harness.report.figures import cell_views, latency_rows, records, score_rows
from harness.report.formatting import clean, text
from harness.report.loadnotes import session_notes
from harness.report.projections import ProjectionRow, projection_rows
from harness.report.projections import caveats as projection_caveats
from harness.report.samples import SamplePage, read_samples
from harness.results import RunStore
from harness.results.published import PublishedComparison, compare_published
from harness.results.schema import RunMeta
from harness.results.values import measured_requests


@dataclass
class RunView:
    run_dir: Path
    meta: RunMeta
    suite_name: str
    constraints: Constraints
    constraints_note: str
    profiles: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    cells: list[CellView]
    scores: list[TaskScore]
    latency: list[LatencyRow]
    samples: SamplePage
    caveats: list[Caveat]
    tasks: list[str]
    requests: pd.DataFrame
    cell_columns: list[str]
    load: list[dict[str, Any]] = field(default_factory=list)
    session_notes: list[str] = field(default_factory=list)  # later turns' TTFT against a cold prompt
    projections: list[ProjectionRow] = field(default_factory=list)
    # the authors' published scores beside ours (harness.results.published)
    published: list[PublishedComparison] = field(default_factory=list)

    def cell(self, model: str, profile: str) -> CellView | None:
        return next((c for c in self.cells if c.model == model and c.profile == profile), None)


def _constraints(meta: RunMeta) -> tuple[Constraints, str]:
    """The constraints the run used (suite file merged with flags) and a note saying where each came from."""
    raw = meta.suite.get("constraints")
    if not isinstance(raw, dict):
        return Constraints(), "none set (no accuracy floor, latency SLO or memory budget)"
    try:
        parsed = Constraints.model_validate(raw)
    except ValidationError as exc:
        return Constraints(), f"ignored: meta.json constraints are invalid ({exc.errors()[0]['msg']})"
    from_cli = sorted(meta.options.constraints.given())
    if from_cli:
        return parsed, f"from the suite file; set on the command line: {', '.join(from_cli)}"
    return parsed, "from the suite file"


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(v.get("name", i)): v for i, v in enumerate(records)}


def build_view(run_dir: Path) -> RunView:
    """Read a run directory into the view model."""
    store = RunStore.open(run_dir)
    meta = store.read_meta()
    constraints, note = _constraints(meta)
    models = _by_name(meta.models)
    cells_df = store.read_table("cells")
    requests = store.read_table("requests")
    scores_df = store.read_table("scores")
    tiers = {text(r["model"]): text(r.get("tier")) for r in records(cells_df)}
    tiers.update({k: text(v.get("tier")) for k, v in models.items() if text(v.get("tier"))})
    scores = score_rows(scores_df, tiers)
    suite_tasks = (
        meta.options.tasks if meta.options.tasks is not None else [text(t) for t in meta.suite.get("tasks") or []]
    )
    measured = measured_requests(requests)
    cells = cell_views(cells_df, requests, measured, scores, len(suite_tasks))
    samples = read_samples(store.layout.samples)
    projections = projection_rows(store.read_table("projections"))
    caveats = run_caveats(cells, scores, samples, set(cells_df.columns))
    caveats += [Caveat("projected", body) for body in projection_caveats(projections)]
    load = [
        {k: (None if clean(v) is None and not isinstance(v, str | bool | np.bool_) else v) for k, v in row.items()}
        for row in records(store.read_table("load"))
    ]
    return RunView(
        run_dir=run_dir,
        meta=meta,
        suite_name=text(meta.suite.get("name")) or run_dir.name,
        constraints=constraints,
        constraints_note=note,
        profiles=_by_name(meta.profiles),
        models=models,
        cells=cells,
        scores=scores,
        latency=latency_rows(requests, measured),
        samples=samples,
        caveats=caveats,
        tasks=list(dict.fromkeys(suite_tasks + [s.task for s in scores])),
        requests=measured,
        cell_columns=list(cells_df.columns),
        load=load,
        session_notes=session_notes(load),
        published=compare_published(meta.model_dump(mode="json"), scores_df),
        projections=projections,
    )
