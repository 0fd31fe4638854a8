"""Concurrent evaluation vs. the ideal, vs. one at a time, and vs. lm-eval's own API client.

Starts a local OpenAI-compatible endpoint (the fault server of ``tests/servers``) that answers
every request after a fixed time to first token, then evaluates the same generation items:

1. tierbench at ``--concurrency`` (the catalog's ``max_concurrency``), and its ratio to the ideal
   wall time: items x per-request time / concurrency + load, where load is the same run against
   an endpoint with no delay (lm-eval's task building, templating, scoring: the harness's own time);
2. tierbench one request at a time (``--skip-sequential`` leaves it out: it takes items x TTFT),
   and whether its samples and scores are identical to the concurrent run's;
3. lm-eval's ``local-chat-completions`` model with ``num_concurrent`` = the same concurrency, on
   the same endpoint and items, offline (``tokenizer_backend=None``, ``tokenized_requests=False``),
   all tasks in one ``evaluate`` call as lm-eval's own CLI makes it (tierbench pools them too).

    python benchmarks/eval_concurrency.py                  # 200 items, TTFT 0.5 s, 32 in flight
    python benchmarks/eval_concurrency.py --items-per-task 10 --ttft 0.2 --skip-sequential
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers.fault_server import fault_server

from harness.backends.registry import create_backend
from harness.config.models import ModelSpec
from harness.evaluation import MemorySink, PacingStats, run_tasks
from harness.evaluation.runner import build_task
from harness.evaluation.taskdefs import get_taskdef, read_docs

TASKS = ["arithmetic", "factual_qa", "word_problems", "sentiment"]  # generation tasks of 60-80 items each


def tierbench(url: str, concurrency: int, limit: int) -> tuple[MemorySink, PacingStats, float]:
    spec = ModelSpec(
        name="endpoint",
        tier="full",
        backend="openai",
        params={"model": "answer", "base_url": url, "api": "chat", "max_concurrency": concurrency},
    )
    backend = create_backend(spec)
    backend.load()
    sink = MemorySink()
    started = time.perf_counter()
    stats = run_tasks(backend, TASKS, limit=limit, seed=0, data_dir=None, sink=sink, concurrency=concurrency)
    wall = time.perf_counter() - started
    backend.close()
    return sink, stats, wall


def lm_eval_api(url: str, concurrency: int, limit: int) -> tuple[float, int]:
    """lm-eval's own concurrent API client on the same items: (wall seconds, samples)."""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.openai_completions import LocalChatCompletion

    lm = LocalChatCompletion(
        base_url=f"{url}/chat/completions",
        model="answer",
        num_concurrent=concurrency,
        tokenizer_backend=None,
        tokenized_requests=False,
        max_retries=3,
    )
    started = time.perf_counter()
    built = {}
    for name in TASKS:  # all tasks in one call, as `lm_eval --tasks a,b,c,d` does: one pool for their requests
        task = get_taskdef(name)
        built[name] = build_task(task, read_docs(task, None), seed=0)
    out = evaluate(
        lm=lm,
        task_dict=built,
        limit=limit,
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=True,
        verbosity="ERROR",
    )
    n = sum(len(samples) for samples in (out or {}).get("samples", {}).values())
    return time.perf_counter() - started, n


def _plain(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "latency_s"} for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items-per-task", type=int, default=50, help="Items per task (4 tasks).")
    parser.add_argument("--ttft", type=float, default=0.5, help="The endpoint's fixed time to first token.")
    parser.add_argument("--concurrency", type=int, default=32, help="The catalog's max_concurrency.")
    parser.add_argument("--skip-sequential", action="store_true", help="Leave out the one-at-a-time run.")
    parser.add_argument("--skip-lm-eval", action="store_true", help="Leave out lm-eval's local-chat-completions.")
    args = parser.parse_args()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    limit = args.items_per_task

    with fault_server(ttft_s=0.0) as (url, state):
        tierbench(url, args.concurrency, limit)  # warm-up: imports, lm-eval's first task build
        _, _, load = tierbench(url, args.concurrency, limit)  # the harness's own time: no endpoint delay
        state.ttft_s = args.ttft
        concurrent, stats, wall = tierbench(url, args.concurrency, limit)
        items = len(concurrent.samples)
        per_request = args.ttft  # delay_s 0: the whole answer comes with the first token
        ideal = items * per_request / args.concurrency + load
        print(f"endpoint: fixed TTFT {args.ttft:g} s, {items} generation items ({', '.join(TASKS)})")
        print(
            f"tierbench  concurrency {args.concurrency:>3}: wall {wall:7.2f} s   (peak in flight {stats.peak_in_flight})"
        )
        print(
            f"  ideal {ideal:.2f} s = {items} x {per_request:g} s / {args.concurrency} + load {load:.2f} s"
            f"   ratio wall/ideal {wall / ideal:.2f} (target <= 2)"
        )
        if not args.skip_sequential:
            state.max_in_flight = 0
            sequential, _, seq_wall = tierbench(url, 1, limit)
            same = _plain(sequential.samples) == _plain(concurrent.samples) and sequential.scores == concurrent.scores
            print(f"tierbench  concurrency   1: wall {seq_wall:7.2f} s   speed-up {seq_wall / wall:.1f}x")
            print(f"  samples and scores identical to the concurrent run: {same}")
        if not args.skip_lm_eval:
            lm_wall, n = lm_eval_api(url, args.concurrency, limit)
            print(
                f"lm-eval local-chat-completions num_concurrent={args.concurrency}: wall {lm_wall:7.2f} s ({n} samples)"
            )
            print(f"side by side: tierbench {wall:.2f} s   lm-eval {lm_wall:.2f} s")


if __name__ == "__main__":
    main()
