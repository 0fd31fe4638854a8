"""Accuracy through lm-eval: any backend as an lm-eval LM, tasks, and scores with uncertainty."""

from harness.evaluation.runner import TaskInfo, list_tasks, resolve_data_dir, run_tasks
from harness.evaluation.sink import EvalSink, MemorySink

__all__ = ["EvalSink", "MemorySink", "TaskInfo", "list_tasks", "resolve_data_dir", "run_tasks"]
