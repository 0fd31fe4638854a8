"""tierbench's piqa and arc_easy scores equal lm-eval's through a reference LM on llama-cpp-python.

The reference is deliberately naive and separate from tierbench's scoring: a ``Llama`` with
``logits_all=True`` evaluates every request from scratch and takes a log-softmax over all
positions. Its tasks are built from lm-eval's own installed task YAML (not ours), on the same
items, and run through ``lm_eval.simple_evaluate``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy.special import logsumexp

from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.evaluation import MemorySink, run_tasks
from harness.evaluation.datasets import LOADERS

pytestmark = pytest.mark.slow
LIMIT = int(os.environ.get("TIERBENCH_PARITY_LIMIT", "200"))  # the bar is 200; smaller only to debug


class ReferenceLM:
    """Built lazily so that importing this module never needs lm-eval's LM base."""

    @staticmethod
    def make(model_path: str) -> Any:
        from lm_eval.api.model import LM

        from harness.backends.llamacpp import open_llama

        class _Ref(LM):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.llm = open_llama(Path(model_path), n_ctx=1024, logits_all=True, verbose=False)

            def _tok(self, text: str) -> list[int]:
                return list(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

            def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
                out = []
                for request in requests:
                    context, continuation = request.args
                    spaces = len(context) - len(context.rstrip())
                    if spaces:
                        context, continuation = context[:-spaces], context[-spaces:] + continuation
                    n_context = len(self._tok(context))
                    whole = self._tok(context + continuation)
                    # keep the tokens already evaluated that this request starts with (Llama keeps
                    # their logits in .scores); evaluate the rest
                    kept = 0
                    previous = list(self.llm.input_ids[: self.llm.n_tokens])
                    while kept < min(len(previous), n_context) and previous[kept] == whole[kept]:
                        kept += 1
                    self.llm.n_tokens = kept
                    self.llm.eval(whole[kept:])
                    logits = np.asarray(self.llm.scores[: len(whole)], dtype=np.float64)
                    logprob, greedy = 0.0, True
                    for position in range(n_context, len(whole)):
                        row = logits[position - 1]
                        logprob += float(row[whole[position]] - logsumexp(row))
                        greedy = greedy and int(row.argmax()) == whole[position]
                    out.append((logprob, greedy))
                return out

            def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
                raise NotImplementedError

            def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
                raise NotImplementedError

        return _Ref()


def _lm_eval_task(name: str, docs: list[dict[str, Any]]) -> Any:
    """lm-eval's own task config for ``name``, fed the given documents."""
    import datasets
    import lm_eval
    from lm_eval.api.task import ConfigurableTask

    folder = Path(lm_eval.__file__).parent / "tasks" / ("piqa" if name == "piqa" else "arc")
    config = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
    dataset = datasets.Dataset.from_list(docs)
    config.update(custom_dataset=lambda **_: datasets.DatasetDict({"test": dataset}), test_split="test")
    for key in ("training_split", "validation_split", "tag"):
        config.pop(key, None)
    return ConfigurableTask(config=config)


@pytest.mark.timeout(900)
def test_piqa_and_arc_easy_match_lm_eval(shared_benchmarks: Path) -> None:
    import time

    import lm_eval

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    spec = next(m for m in default_catalog().models if m.name == "nano")
    backend = create_backend(spec)
    backend.load()
    sink = MemorySink()
    started = time.perf_counter()
    run_tasks(backend, ["piqa", "arc_easy"], limit=LIMIT, seed=0, data_dir=shared_benchmarks, sink=sink)
    ours_s = time.perf_counter() - started
    model_path = str(backend.model_path())  # type: ignore[attr-defined]
    backend.close()

    reference = ReferenceLM.make(model_path)
    tasks = [_lm_eval_task(name, LOADERS[name][0](shared_benchmarks)) for name in ("piqa", "arc_easy")]
    from lm_eval.tasks import TaskManager

    out = lm_eval.simple_evaluate(
        model=reference, tasks=tasks, task_manager=TaskManager(include_defaults=False), limit=LIMIT, bootstrap_iters=0
    )
    assert out is not None
    print(f"tierbench {ours_s:.1f} s, reference {time.perf_counter() - started - ours_s:.1f} s")
    for name in ("piqa", "arc_easy"):
        for metric in ("acc", "acc_norm"):
            ours = sink.value(name, metric)
            theirs = out["results"][name][f"{metric},none"]
            assert ours is not None
            assert abs(ours - theirs) * 100 <= 0.5, f"{name} {metric}: tierbench {ours:.4f} vs lm-eval {theirs:.4f}"
        row = next(r for r in sink.scores if r["task"] == name and r["metric"] == "acc")
        assert row["n"] == LIMIT and row["stderr"] > 0 and row["ci_low"] < row["value"] < row["ci_high"]
