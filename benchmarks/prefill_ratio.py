"""Multiple-choice scoring speed vs. raw prefill speed, side by side on this machine.

Scores the first N items of a multiple-choice benchmark through ``run_tasks`` (the same path
as ``tierbench run``), then times llama.cpp's plain prefill of prompts of the same mean length.
Prints tokens per second for both and their ratio (target >= 0.9):

- *requested*: tokens a scorer without KV reuse would decode (every context once per choice);
- *decoded*: tokens actually decoded (shared contexts once).

A plain prefill computes one row of logits a prompt (the next token's); scoring needs a row at
every continuation position, and each row is a matmul with the whole vocabulary (about a fifth
of SmolLM2-135M's weights). So the script also times the same prompts decoded with logits at the
same share of positions as the scorer asked for: that rate is the ceiling any exact scorer has.

    python benchmarks/prefill_ratio.py --model nano --task piqa --limit 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from harness.backends import llamacpp_scoring
from harness.backends.registry import create_backend
from harness.catalog import default_catalog
from harness.evaluation import MemorySink, resolve_data_dir, run_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="nano")
    parser.add_argument("--task", default="piqa")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "benchmarks")
    parser.add_argument("--rounds", type=int, default=3, help="Prefill timings (best is kept).")
    args = parser.parse_args()

    backend = create_backend(next(m for m in default_catalog().models if m.name == args.model))
    backend.load()
    totals = {"decoded": 0, "requested": 0, "rows": 0, "seconds": 0.0, "calls": 0}
    original = llamacpp_scoring.score_token_pairs

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        out = original(*a, **k)
        stats = llamacpp_scoring.LAST_STATS
        totals["decoded"] += stats.decoded_tokens
        totals["requested"] += stats.requested_tokens
        totals["rows"] += stats.logit_rows
        totals["seconds"] += stats.seconds
        totals["calls"] += len(out)
        return out

    llamacpp_scoring.score_token_pairs = counting  # type: ignore[assignment]
    sink = MemorySink()
    started = time.perf_counter()
    run_tasks(backend, [args.task], limit=args.limit, seed=0, data_dir=resolve_data_dir(args.data_dir), sink=sink)
    wall = time.perf_counter() - started
    llamacpp_scoring.score_token_pairs = original  # type: ignore[assignment]

    llm = backend.llm  # type: ignore[attr-defined]
    length = max(int(totals["requested"] / max(totals["calls"], 1)), 8)
    best = 0.0
    for round_ in range(args.rounds):
        tokens = backend.tokenize(backend.make_prompt(length, round_), add_bos=True)  # type: ignore[attr-defined]
        for _ in range(max(int(2048 / len(tokens)), 1)):
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(tokens)
            best = max(best, len(tokens) / (time.perf_counter() - t0))
    row_share = totals["rows"] / max(totals["decoded"], 1)
    same_rows = max(
        _prefill_with_rows(llm, backend.tokenize(backend.make_prompt(length, 50 + r), add_bos=True), row_share)  # type: ignore[attr-defined]
        for r in range(args.rounds)
    )
    long_tokens = backend.tokenize(backend.make_prompt(512, 99), add_bos=True)  # type: ignore[attr-defined]
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(long_tokens)
    long_tps = len(long_tokens) / (time.perf_counter() - t0)
    llm.reset()

    seconds = totals["seconds"]
    requested_tps = totals["requested"] / seconds
    decoded_tps = totals["decoded"] / seconds
    print(
        f"model {args.model}, task {args.task}, {args.limit} items, {totals['calls']} requests, run_tasks wall {wall:.1f} s"
    )
    print(f"scoring: {totals['requested']} requested tokens, {totals['decoded']} decoded, in {seconds:.2f} s")
    print(f"  requested tokens/s  {requested_tps:8.1f}")
    print(f"  decoded tokens/s    {decoded_tps:8.1f}")
    print(f"raw prefill ({length}-token prompts, best of {args.rounds} rounds) tokens/s {best:8.1f}")
    print(f"raw prefill (512-token prompt) tokens/s {long_tps:8.1f}")
    print(f"prefill with logits at {row_share:.0%} of positions, as scoring needs, tokens/s {same_rows:8.1f}")
    print(
        f"ratio requested/prefill {requested_tps / best:.2f}   decoded/prefill {decoded_tps / best:.2f}   (target >= 0.9)"
    )
    print(f"ratio decoded/prefill-with-the-same-logit-rows {decoded_tps / same_rows:.2f}")
    acc = sink.value(args.task, "acc")
    print(f"{args.task} acc {acc}")


def _prefill_with_rows(llm: Any, tokens: list[int], share: float, repeats: int = 40) -> float:
    """Best tokens/s of decoding ``tokens`` with logits at their last ``share`` of positions."""
    import llama_cpp

    ctx = llm._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    first_row = len(tokens) - max(round(share * len(tokens)), 1)
    batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
    best = 0.0
    try:
        for _ in range(repeats):
            llama_cpp.llama_memory_clear(memory, True)
            t0 = time.perf_counter()
            for k, token in enumerate(tokens):
                llamacpp_scoring._put(batch, k, token, k, 0, k >= first_row)
            llamacpp_scoring._decode(ctx, batch, len(tokens))
            best = max(best, len(tokens) / (time.perf_counter() - t0))
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_memory_clear(memory, True)
        llm.reset()
    return best


if __name__ == "__main__":
    main()
