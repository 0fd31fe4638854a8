"""The CI regression gate: rules over a run and its baseline, verdicts, and CI outputs."""

from harness.gate.baseline import load_any, save
from harness.gate.evaluate import GateReport, RuleResult, evaluate
from harness.results.snapshot import Snapshot, from_run

__all__ = ["GateReport", "RuleResult", "Snapshot", "evaluate", "from_run", "load_any", "save"]
