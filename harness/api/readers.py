"""``harness.report``, ``harness.compare``, ``harness.gate``: readers of run directories (no backend)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from harness.config.rules import GateRules
    from harness.gate.evaluate import GateReport
    from harness.report import ReportPaths
    from harness.report.compare import Comparison
    from harness.report.view import RunView


def report(run_dir: Path | str, baseline: Path | str | None = None) -> ReportPaths:
    """Write RUN/report.html and RUN/report.md, with deltas against ``baseline`` (another run) when given."""
    from harness.report import write_report
    from harness.results.store import RunStore

    run_dir = Path(run_dir)
    RunStore.open(run_dir)
    if baseline is not None:
        baseline = Path(baseline)
        if baseline.resolve() == run_dir.resolve():
            raise UserError(f"--baseline {baseline}: is the run itself; name a different run directory")
        try:
            RunStore.open(baseline)
        except UserError as exc:
            raise UserError(f"--baseline: {exc}") from None
    return write_report(run_dir, baseline=baseline)


@dataclass(frozen=True)
class RunComparison:
    """Run B against baseline run A, with the two runs' views (their published figures among them)."""

    comparison: Comparison
    baseline: RunView
    current: RunView

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric of each cell both runs measured."""
        import pandas as pd

        return pd.DataFrame([asdict(row) for row in self.comparison.rows])


def compare(baseline_dir: Path | str, current_dir: Path | str) -> RunComparison:
    """Deltas of run B against A, tested as the gate tests them (McNemar on items, bootstrap on latency)."""
    from harness.report.compare import compare_views
    from harness.report.view import build_view

    views = []
    for label, path in (("A", baseline_dir), ("B", current_dir)):
        try:
            views.append(build_view(Path(path)))
        except UserError as exc:
            raise UserError(f"{label}: {exc}") from None
    return RunComparison(compare_views(views[1], views[0]), views[0], views[1])


def gate(run_dir: Path | str, baseline: Path | str, rules: Path | str | GateRules) -> GateReport:
    """Judge a run against a baseline file (or run directory) under gate rules; ``.exit_code`` says pass/fail."""
    from harness.config.loading import load_yaml_model
    from harness.config.rules import GateRules
    from harness.gate.baseline import load_any
    from harness.gate.evaluate import evaluate
    from harness.results.snapshot import from_run

    settings = rules if isinstance(rules, GateRules) else load_yaml_model(GateRules, Path(rules))
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"RUN {run_dir}: no such run directory")
    source = "rules" if isinstance(rules, GateRules) else str(rules)
    return evaluate(from_run(run_dir), load_any(Path(baseline)), settings, rules_source=source)
