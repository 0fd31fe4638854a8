"""Accuracy through lm-eval: any backend as an lm-eval LM, tasks, and scores with uncertainty."""

from harness.evaluation.pacing import PacingStats
from harness.evaluation.runner import TaskInfo, list_tasks, resolve_data_dir, run_tasks
from harness.evaluation.sink import EvalSink, MemorySink

__all__ = ["EvalSink", "MemorySink", "PacingStats", "TaskInfo", "list_tasks", "resolve_data_dir", "run_tasks"]
