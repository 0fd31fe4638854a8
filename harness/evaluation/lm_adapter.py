"""Any tierbench backend as an lm-eval ``LM``: every request measured, cached for resume.

Log-likelihood requests go to ``backend.loglikelihood`` in chunks (the llama.cpp backend reuses
shared contexts within a chunk); generation requests go one by one through
``timed_generate``, so each carries its latency and token counts into the per-item samples.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lm_eval.api.model import LM

from harness.backends.base import Backend, GenerationRequest
from harness.evaluation.sink import EvalSink
from harness.meters.latency import timed_generate

CHUNK = 256  # log-likelihood requests per backend call: big enough for prefix reuse, small for progress


@dataclass
class ItemCost:
    """What one document cost across its requests."""

    latency_s: float = 0.0
    prompt_tokens: int = 0
    output_tokens: int = 0
    errors: int = 0


def request_key(task: str, kind: str, args: Any) -> str:
    """Stable key of one LM request (the resume cache key)."""
    blob = json.dumps([task, kind, args], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class TierbenchLM(LM):
    """Adapts a loaded backend; ``costs[(task, doc_id)]`` collects per-item measurements."""

    def __init__(self, backend: Backend, sink: EvalSink, seed: int = 0) -> None:
        super().__init__()
        self.backend = backend
        self.sink = sink
        self.seed = seed
        self.costs: dict[tuple[str, int], ItemCost] = defaultdict(ItemCost)

    def _cost(self, instance: Any) -> ItemCost:
        return self.costs[(str(instance.task_name), int(instance.doc_id))]

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        todo: list[int] = []
        for index, instance in enumerate(requests):
            hit = self.sink.cached(request_key(str(instance.task_name), "loglikelihood", list(instance.args)))
            if hit is not None:
                results[index] = (float(hit[0]), bool(hit[1]))
            else:
                todo.append(index)
        label = str(requests[0].task_name) if requests else "loglikelihood"
        done = len(requests) - len(todo)
        for at in range(0, len(todo), CHUNK):
            chunk = todo[at : at + CHUNK]
            pairs = [(str(requests[i].args[0]), str(requests[i].args[1])) for i in chunk]
            started = time.perf_counter()
            scored = self.backend.loglikelihood(pairs)
            share = (time.perf_counter() - started) / max(len(chunk), 1)
            for i, (logprob, greedy) in zip(chunk, scored, strict=True):
                instance = requests[i]
                results[i] = (float(logprob), bool(greedy))
                self.sink.store(
                    request_key(str(instance.task_name), "loglikelihood", list(instance.args)), [logprob, greedy]
                )
                cost = self._cost(instance)
                cost.latency_s += share
                cost.prompt_tokens += self.backend.count_tokens(instance.args[0] + instance.args[1])
            done += len(chunk)
            self.sink.progress(label, done, len(requests))
        return [r for r in results if r is not None]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        out: list[float] = []
        for done, instance in enumerate(requests, 1):
            key = request_key(str(instance.task_name), "loglikelihood_rolling", list(instance.args))
            hit = self.sink.cached(key)
            if hit is None:
                started = time.perf_counter()
                hit = float(self.backend.loglikelihood_rolling([str(instance.args[0])])[0])
                cost = self._cost(instance)
                cost.latency_s += time.perf_counter() - started
                cost.prompt_tokens += self.backend.count_tokens(instance.args[0])
                self.sink.store(key, hit)
            out.append(float(hit))
            self.sink.progress(str(instance.task_name), done, len(requests))
        return out

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        out: list[str] = []
        for done, instance in enumerate(requests, 1):
            context, gen_kwargs = instance.args[0], dict(instance.args[1])
            until = gen_kwargs.get("until") or []
            if isinstance(until, str):
                until = [until]
            max_tokens = int(gen_kwargs.get("max_gen_toks", 256))
            key = request_key(str(instance.task_name), "generate_until", [context, sorted(until), max_tokens])
            hit = self.sink.cached(key)
            if hit is None:
                request = GenerationRequest(
                    prompt=str(context), max_tokens=max_tokens, stop=tuple(until), chat=False, seed=self.seed
                )
                timing = timed_generate(self.backend, request)
                text = _cut(timing.text, until)
                cost = self._cost(instance)
                cost.latency_s += timing.e2e_s or 0.0
                cost.prompt_tokens += timing.prompt_tokens
                cost.output_tokens += timing.output_tokens
                if timing.error:  # a failed request scores as an empty (wrong) answer, and is counted
                    cost.errors += 1
                self.sink.store(key, text)
                hit = text
            out.append(str(hit))
            self.sink.progress(str(instance.task_name), done, len(requests))
        return out


def _cut(text: str, until: list[str]) -> str:
    """Text before the first stop sequence (backends that cannot stop server-side overshoot)."""
    end = len(text)
    for stop in until:
        if stop:
            at = text.find(stop)
            if at != -1:
                end = min(end, at)
    return text[:end]
