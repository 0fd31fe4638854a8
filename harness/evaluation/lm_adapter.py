"""Any tierbench backend as an lm-eval ``LM``: every request measured, cached for resume.

Log-likelihoods go in chunks (llama.cpp reuses shared contexts within one); a backend that decides
per item (the live cascade, ``ItemScoringBackend``) gets every choice of one document together.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lm_eval.api.model import LM

from harness.backends.base import (
    Backend,
    GenerationRequest,
    ItemRequest,
    ItemScores,
    ItemScoringBackend,
    StreamUsage,
)
from harness.backends.confidence import SELF_CHECK_NO, SELF_CHECK_YES, self_check_prompt, yes_probability
from harness.evaluation.pacing import AdaptiveLimit, paced
from harness.evaluation.sink import EvalSink
from harness.meters.latency import RequestTiming, timed_generate
from harness.results.signals import SELF_CHECK_COST_FIELDS

CHUNK = 256  # log-likelihood requests per backend call: big enough for prefix reuse, small for progress


@dataclass
class ItemCost:
    """What one document cost across its requests."""

    latency_s: float = 0.0
    prompt_tokens: int = 0
    output_tokens: int = 0
    errors: int = 0
    token_logprobs: list[float] | None = None  # of the generated answer, where the backend gave them
    trace: dict[str, Any] | None = None  # what a composite backend (a cascade) did for this item
    reasoning_tokens: int = 0  # of output_tokens, those spent on hidden reasoning (where the server said)
    # the model ran out of tokens while reasoning (finish_reason length, no visible answer): scored, and counted
    truncated_reasoning: bool = False


def request_key(task: str, kind: str, args: Any) -> str:
    """Stable key of one LM request (the resume cache key)."""
    blob = json.dumps([task, kind, args], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class TierbenchLM(LM):
    """Adapts a loaded backend; ``costs[(task, doc_id)]`` collects per-item measurements.

    Only backend calls run concurrently (``pacing``); caching, costs and progress happen here, and every
    result lands at its request's index, so what lm-eval gets back is the same in any order.
    """

    def __init__(self, backend: Backend, sink: EvalSink, seed: int = 0, pacing: AdaptiveLimit | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.sink = sink
        self.seed = seed
        self.pacing = pacing if pacing is not None else AdaptiveLimit(1)
        self.costs: dict[tuple[str, int], ItemCost] = defaultdict(ItemCost)
        self.doc_to_choice: dict[str, Callable[[Any], list[str]]] = {}  # per multiple-choice task, by the runner

    def _cost(self, instance: Any) -> ItemCost:
        return self.costs[(str(instance.task_name), int(instance.doc_id))]

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        if isinstance(self.backend, ItemScoringBackend):
            return self._loglikelihood_items(self.backend, requests)
        keys = [request_key(str(r.task_name), "loglikelihood", list(r.args)) for r in requests]
        hits = [self.sink.cached(key) for key in keys]
        results = [None if hit is None else (float(hit[0]), bool(hit[1])) for hit in hits]
        todo = [index for index, hit in enumerate(hits) if hit is None]
        progress = _Progress(self.sink, requests, todo)
        # one call scores a chunk (shared contexts reused in process); concurrent calls score one request each,
        # so that each request's latency is its own
        size = CHUNK if self.pacing.ceiling == 1 else 1
        chunks = [todo[at : at + size] for at in range(0, len(todo), size)]

        def score(chunk: list[int]) -> tuple[list[tuple[float, bool]], float]:
            pairs = [(str(requests[i].args[0]), str(requests[i].args[1])) for i in chunk]
            started = time.perf_counter()
            scored = self.backend.loglikelihood(pairs)
            return scored, (time.perf_counter() - started) / max(len(chunk), 1)

        for chunk, (scored, share) in paced(self.pacing, chunks, score):
            for i, (logprob, greedy) in zip(chunk, scored, strict=True):
                results[i] = (float(logprob), bool(greedy))
                self.sink.store(keys[i], [logprob, greedy])
                cost = self._cost(requests[i])
                cost.latency_s += share
                cost.prompt_tokens += self.backend.count_tokens(requests[i].args[0] + requests[i].args[1])
            progress.advance(chunk)
        return [r for r in results if r is not None]

    def _loglikelihood_items(self, backend: ItemScoringBackend, requests: list[Any]) -> list[tuple[float, bool]]:
        """Hand the backend whole items (all requests of one document, in order), cached per item."""
        items: dict[tuple[str, int], list[int]] = {}
        for index, instance in enumerate(requests):
            items.setdefault((str(instance.task_name), int(instance.doc_id)), []).append(index)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        todo: list[tuple[tuple[str, int], list[int], str]] = []
        for item, indices in items.items():
            key = request_key(item[0], "loglikelihood_item", [list(requests[i].args) for i in indices])
            hit = self.sink.cached(key)
            if isinstance(hit, dict) and len(hit.get("results", [])) == len(indices):
                for i, (logprob, greedy) in zip(indices, hit["results"], strict=True):
                    results[i] = (float(logprob), bool(greedy))
                self.costs[item].trace = hit.get("trace")
            else:
                todo.append((item, indices, key))
        progress = _Progress(self.sink, requests, [i for _, indices, _ in todo for i in indices])

        def score(entry: tuple[tuple[str, int], list[int], str]) -> tuple[ItemScores, float]:
            indices = entry[1]
            pairs = [(str(requests[i].args[0]), str(requests[i].args[1])) for i in indices]
            started = time.perf_counter()
            lengths = self._choice_lengths(requests[indices[0]])
            scored = backend.loglikelihood_items([ItemRequest(pairs, lengths)])[0]
            return scored, time.perf_counter() - started

        for (item, indices, key), (scored, seconds) in paced(self.pacing, todo, score):
            cost = self.costs[item]
            cost.latency_s += seconds
            cost.prompt_tokens += sum(self.backend.count_tokens(c + x) for c, x in (requests[i].args for i in indices))
            cost.trace = scored.trace
            for i, (logprob, greedy) in zip(indices, scored.results, strict=True):
                results[i] = (float(logprob), bool(greedy))
            self.sink.store(key, {"results": [list(r) for r in scored.results], "trace": scored.trace})
            progress.advance(indices)
        return [r for r in results if r is not None]

    def _choice_lengths(self, instance: Any) -> list[int] | None:
        """Characters of each choice of the instance's document, as lm-eval's acc_norm divides by."""
        doc_to_choice = self.doc_to_choice.get(str(instance.task_name))
        if doc_to_choice is None or getattr(instance, "doc", None) is None:
            return None
        try:
            return [len(str(c)) for c in doc_to_choice(instance.doc)]
        except Exception:  # a task whose choices are not a plain list: the backend falls back on its own
            return None

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        keys = [request_key(str(r.task_name), "loglikelihood_rolling", list(r.args)) for r in requests]
        todo = _first_uncached(self.sink, keys)

        def score(index: int) -> tuple[float, float]:
            started = time.perf_counter()
            value = float(self.backend.loglikelihood_rolling([str(requests[index].args[0])])[0])
            return value, time.perf_counter() - started

        progress = _Progress(self.sink, requests, todo)
        for index, (value, seconds) in paced(self.pacing, todo, score):
            cost = self._cost(requests[index])
            cost.latency_s += seconds
            cost.prompt_tokens += self.backend.count_tokens(requests[index].args[0])
            self.sink.store(keys[index], value)
            progress.advance([index])
        return [float(self.sink.cached(key) or 0.0) for key in keys]  # every key is stored by now

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        prepared = [self._generation(instance) for instance in requests]
        keys = [key for key, _, _ in prepared]
        todo = _first_uncached(self.sink, keys)

        def generate(index: int) -> tuple[RequestTiming, StreamUsage]:
            usage = StreamUsage()
            return timed_generate(self.backend, prepared[index][1], usage=usage), usage

        progress = _Progress(self.sink, requests, todo)
        for index, (timing, usage) in paced(self.pacing, todo, generate, lambda r: r[1].throttled > 0):
            cost = self._cost(requests[index])
            cost.latency_s += timing.e2e_s or 0.0  # this request's own time, whatever else was in flight
            cost.prompt_tokens += timing.prompt_tokens
            cost.output_tokens += timing.output_tokens
            cost.reasoning_tokens += timing.reasoning_tokens or 0
            if timing.error:  # a failed request scores as an empty (wrong) answer, and is counted
                cost.errors += 1
            logprobs = None if timing.error else usage.token_logprobs
            text = _cut(timing.text, prepared[index][2])
            stored = {"text": text, "logprobs": logprobs, "trace": usage.extra.get("trace")}
            self.sink.store(keys[index], {**stored, "truncated_reasoning": timing.truncated_reasoning})
            progress.advance([index])
        out: list[str] = []
        for instance, key in zip(requests, keys, strict=True):
            hit = self.sink.cached(key)
            cost = self._cost(instance)
            if isinstance(hit, dict):  # stored with its log-probabilities (older runs stored the text alone)
                cost.token_logprobs = hit.get("logprobs")
                cost.trace = hit.get("trace")
                cost.truncated_reasoning = bool(hit.get("truncated_reasoning"))
                hit = hit.get("text", "")
            out.append(str(hit))
        return out

    def _generation(self, instance: Any) -> tuple[str, GenerationRequest, list[str]]:
        """The cache key, the request and the stop sequences of one ``generate_until`` instance."""
        context, gen_kwargs = instance.args[0], dict(instance.args[1])
        until = gen_kwargs.get("until") or []
        if isinstance(until, str):
            until = [until]
        max_tokens = int(gen_kwargs.get("max_gen_toks", 256))
        key = request_key(str(instance.task_name), "generate_until", [context, sorted(until), max_tokens])
        request = GenerationRequest(
            prompt=str(context), max_tokens=max_tokens, stop=tuple(until), chat=False, seed=self.seed, logprobs=True
        )
        return key, request, list(until)

    def self_check(self, task: str, question: str, answer: str) -> dict[str, Any]:
        """AutoMix-style self-verification: P("Yes") for the tier's own answer, and what asking cost.
        A backend without log-likelihoods (or a composite one) gives None, recorded as missing, never a guess."""
        missing: dict[str, Any] = dict.fromkeys(("self_check", *SELF_CHECK_COST_FIELDS))
        if not self.backend.capabilities.loglikelihood or isinstance(self.backend, ItemScoringBackend):
            return missing
        prompt = self_check_prompt(question, answer)
        key = request_key(task, "self_check", [prompt])
        hit = self.sink.cached(key)
        if not isinstance(hit, dict):
            started = time.perf_counter()
            (yes, _), (no, _) = self.backend.loglikelihood([(prompt, SELF_CHECK_YES), (prompt, SELF_CHECK_NO)])
            hit = {
                "self_check": yes_probability(yes, no),
                "self_check_latency_s": time.perf_counter() - started,
                "self_check_prompt_tokens": self.backend.count_tokens(prompt),
                "self_check_output_tokens": 0,  # scored, not generated
            }
            self.sink.store(key, hit)
        return dict(hit)


class _Progress:
    """Requests done per task: one lm-eval call carries the requests of every task evaluated with it."""

    def __init__(self, sink: EvalSink, requests: list[Any], pending: list[int]) -> None:
        self.sink = sink
        self.tasks = [str(r.task_name) for r in requests]
        self.total = Counter(self.tasks)
        self.done = self.total - Counter(self.tasks[i] for i in pending)  # cached ones are done already

    def advance(self, indices: list[int]) -> None:
        for task in dict.fromkeys(self.tasks[i] for i in indices):
            self.done[task] += sum(self.tasks[i] == task for i in indices)
            self.sink.progress(task, self.done[task], self.total[task])


def _first_uncached(sink: EvalSink, keys: list[str]) -> list[int]:
    """Indices of uncached requests, only the first of a repeated key (the rest read its stored response)."""
    seen: set[str] = set()
    todo: list[int] = []
    for index, key in enumerate(keys):
        if key not in seen and sink.cached(key) is None:
            todo.append(index)
        seen.add(key)
    return todo


def _cut(text: str, until: list[str]) -> str:
    """Text before the first stop sequence (backends that cannot stop server-side overshoot)."""
    ends = [at for stop in until if stop and (at := text.find(stop)) != -1]
    return text[: min(ends, default=len(text))]
