"""Load scenarios for server backends: a concurrency sweep (closed loop) and a request rate (open loop).

Closed loop keeps ``c`` requests in flight: a slot sends its next request when the previous one
ends. Open loop sends on a schedule (constant spacing or Poisson arrivals) whatever the server
does. Both record, per request, when it was due and how late the client actually sent it
(``dispatch_delay_s``), so that client overhead is visible next to server latency.

Every request runs in its own daemon thread with a deadline: a request that outlives
``request_timeout_s`` is recorded as a timeout and abandoned, so a hung endpoint can never hang
the run. Failed requests are counted in the error rate and never enter latency figures.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.backends.base import Backend, Chunk, GenerationRequest, StreamUsage
from harness.backends.costing import request_cost_usd
from harness.config.suite import PerfScenario
from harness.meters.latency import RequestTiming, timed_generate
from harness.metrics import REQUEST_COLUMNS
from harness.secrets import clip
from harness.stats import summarize

OnRequest = Callable[[dict[str, Any]], None]
MAX_IN_FLIGHT = 1024  # open-loop guard: past this the client itself is the bottleneck (shows as dispatch delay)
_GRACE_S = 0.5
# what each request record takes from its RequestTiming (ITL and the text stay out of load records)
_TIMING_FIELDS = ("prompt_tokens", "output_tokens", *REQUEST_COLUMNS, "token_count_source", "error")


class Deadline:
    """Wraps a backend's stream so that a slow stream fails at the request deadline.

    The deadline is checked between chunks here, and handed to the backend in the request
    (``timeout_s``) so that a network backend also cuts a silent or trickling stream.
    """

    def __init__(self, backend: Backend, deadline: float) -> None:
        self.backend = backend
        self.deadline = deadline

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        # the backend learns the deadline too, so it can cut a stream that sends nothing at all
        left = max(self.deadline - time.perf_counter(), 1e-3)
        request = dataclasses.replace(request, timeout_s=min(left, request.timeout_s or math.inf))
        stream = self.backend.stream(request, usage)
        try:
            for chunk in stream:
                if time.perf_counter() > self.deadline:
                    raise TimeoutError("request exceeded request_timeout_s")
                yield chunk
        except Exception as exc:
            if isinstance(exc, TimeoutError) or time.perf_counter() < self.deadline:
                raise
            # the backend cut the request at the deadline it was given: the same timeout, said the same way
            raise TimeoutError("request exceeded request_timeout_s") from None
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()


@dataclass
class _Call:
    """One request in its own thread; whoever settles it first (finish or timeout) records it."""

    backend: Backend
    request: GenerationRequest
    timeout_s: float
    t_send: float = 0.0
    timing: RequestTiming | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        self.t_send = time.perf_counter()
        proxy = Deadline(self.backend, self.t_send + self.timeout_s)
        try:
            self.timing = timed_generate(proxy, self.request)
        finally:
            self.done.set()

    def result(self) -> RequestTiming:
        """Send the request and wait up to its deadline; a request still running then is a timeout."""
        threading.Thread(target=self._run, daemon=True, name="tierbench-load").start()
        finished = self.done.wait(self.timeout_s + _GRACE_S)
        if finished and self.timing is not None:
            return self.timing
        return RequestTiming(0, 0, error=f"TimeoutError: no complete response within {self.timeout_s:g}s")


@dataclass
class _Point:
    """Shared state of one load point (one concurrency level or one rate)."""

    label: str
    scenario: PerfScenario
    repetition: int
    prompt_tokens: int
    output_tokens: int
    backend: Backend
    on_request: OnRequest
    seed: int
    t0: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def request(self, index: int) -> GenerationRequest:
        with self.lock:  # tokenizers are not all thread-safe
            prompt = self.backend.make_prompt(self.prompt_tokens, seed=self.seed + index)
        return GenerationRequest(prompt=prompt, max_tokens=self.output_tokens, ignore_eos=True, seed=index)

    def execute(self, index: int, warmup: bool, scheduled: float, in_flight: int) -> dict[str, Any]:
        call = _Call(self.backend, self.request(index), self.scenario.request_timeout_s)
        timing = call.result()
        sent = call.t_send if call.t_send else time.perf_counter()
        record = {
            "scenario": self.scenario.name,
            "point": self.label,
            "repetition": self.repetition,
            "index": index,
            "warmup": warmup,
            "concurrency": in_flight,
            **{k: getattr(timing, k) for k in _TIMING_FIELDS},
            "scheduled_s": scheduled - self.t0,
            "dispatch_delay_s": max(sent - scheduled, 0.0),
        }
        if timing.error is None and timing.ttft_s is None:
            record["error"] = "EmptyResponse: the server returned no output tokens"
        record["_end"] = time.perf_counter()
        record["_send"] = sent
        with self.lock:
            self.records.append(record)
            self.on_request({k: v for k, v in record.items() if not k.startswith("_")})
        return record


def _closed_loop(point: _Point, concurrency: int, first_index: int, count: int, warmup: bool, deadline: float) -> int:
    """``count`` requests with ``concurrency`` slots; returns how many were sent."""
    counter = iter(range(first_index, first_index + count))
    sent = [0]

    def slot() -> None:
        free_at = time.perf_counter()
        while not point.stop.is_set() and time.perf_counter() < deadline:
            with point.lock:
                index = next(counter, None)
                if index is None:
                    return
                sent[0] += 1
            point.execute(index, warmup, free_at, concurrency)
            free_at = time.perf_counter()

    threads = [threading.Thread(target=slot, daemon=True, name="tierbench-slot") for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    _join(threads, point)
    return sent[0]


def _open_loop(point: _Point, rate: float, arrival: str, first_index: int, count: int, deadline: float) -> int:
    """``count`` requests due at ``rate`` per second (constant spacing or Poisson arrivals)."""
    rng = random.Random(point.seed * 7919 + point.repetition)
    start = time.perf_counter()
    due = 0.0
    threads: list[threading.Thread] = []
    in_flight = [0]

    def run(index: int, scheduled: float) -> None:
        with point.lock:
            in_flight[0] += 1
            level = in_flight[0]
        try:
            point.execute(index, False, scheduled, level)
        finally:
            with point.lock:
                in_flight[0] -= 1

    try:
        for index in range(first_index, first_index + count):
            scheduled = start + due
            if scheduled > deadline or point.stop.is_set():
                break
            while (wait := scheduled - time.perf_counter()) > 0:
                time.sleep(min(wait, 0.25))
            while in_flight[0] >= MAX_IN_FLIGHT and time.perf_counter() < deadline:
                time.sleep(0.005)
            thread = threading.Thread(target=run, args=(index, scheduled), daemon=True, name="tierbench-open")
            thread.start()
            threads.append(thread)
            due += rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate
    except BaseException:
        point.stop.set()
        raise
    _join(threads, point)
    return len(threads)  # one thread per request sent


def _join(threads: Sequence[threading.Thread], point: _Point) -> None:
    """Wait for request threads in short steps so that Ctrl-C reaches the main thread."""
    limit = time.perf_counter() + point.scenario.max_duration_s + point.scenario.request_timeout_s + 2 * _GRACE_S
    try:
        for thread in threads:
            while thread.is_alive() and time.perf_counter() < limit:
                thread.join(0.2)
    except BaseException:
        point.stop.set()
        raise


def _slo_met(record: dict[str, Any], scenario: PerfScenario) -> bool:
    """Whether a successful request met every SLO the scenario sets (TPOT is undefined for 1 token)."""
    for limit, key in ((scenario.slo_ttft_s, "ttft_s"), (scenario.slo_tpot_s, "tpot_s"), (scenario.slo_e2e_s, "e2e_s")):
        value = record[key]
        if limit is None or (value is None and key == "tpot_s"):
            continue
        if value is None or value > limit:
            return False
    return True


def _summary(point: _Point, target: dict[str, Any], planned: int, sent: int, window_start: float) -> dict[str, Any]:
    scenario = point.scenario
    measured = [r for r in point.records if not r["warmup"]]
    ok = [r for r in measured if r["error"] is None]
    failed = len(measured) - len(ok)
    end = max((r["_end"] for r in measured), default=window_start)
    duration = max(end - window_start, 1e-9) if measured else 0.0
    first_send = min((r["_send"] for r in measured), default=window_start)
    last_send = max((r["_send"] for r in measured), default=window_start)
    has_slo = any(s is not None for s in (scenario.slo_ttft_s, scenario.slo_tpot_s, scenario.slo_e2e_s))
    good = sum(1 for r in ok if _slo_met(r, scenario)) if has_slo else None
    out_tokens = sum(int(r["output_tokens"] or 0) for r in ok)
    prices = getattr(getattr(point.backend, "spec", None), "prices", None)
    costs = [request_cost_usd(prices, r["prompt_tokens"], r["output_tokens"]) for r in measured]
    sources = sorted({str(r["token_count_source"]) for r in ok})
    errors = Counter(clip(str(r["error"]), 100) for r in measured if r["error"])
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "point": point.label,
        "repetition": point.repetition,
        **target,
        "prompt_tokens": point.prompt_tokens,
        "output_tokens": point.output_tokens,
        "requests_planned": planned,
        "requests_sent": sent,
        "requests_ok": len(ok),
        "requests_failed": failed,
        "warmup_requests": sum(1 for r in point.records if r["warmup"]),
        "error_rate": failed / len(measured) if measured else math.nan,
        "stopped_by": "interrupted" if point.stop.is_set() else ("max_duration_s" if sent < planned else "requests"),
        "duration_s": duration,
        "achieved_rate_rps": (len(measured) - 1) / (last_send - first_send)
        if len(measured) > 1 and last_send > first_send
        else math.nan,
        "throughput_rps": len(ok) / duration if duration else math.nan,
        "output_tps": out_tokens / duration if duration else math.nan,
        "goodput_rps": (good / duration if duration else math.nan) if good is not None else None,
        "slo_attainment": (good / len(measured) if measured else math.nan) if good is not None else None,
        "token_count_source": ",".join(sources),
        "cost_usd": sum(c for c in costs if c is not None) if prices is not None else None,
        "top_errors": "; ".join(f"{n}x {e}" for e, n in errors.most_common(3)),
    }
    for metric in ("ttft_s", "e2e_s", "tpot_s", "dispatch_delay_s"):
        stats = summarize(r[metric] for r in (ok if metric != "dispatch_delay_s" else measured))
        for key in ("mean", "p50", "p95", "p99"):
            summary[f"{metric[:-2]}_{key}_s"] = stats[key]
    summary["dispatch_delay_max_s"] = max((r["dispatch_delay_s"] for r in measured), default=math.nan)
    return summary


def scenario_points(scenario: PerfScenario) -> list[tuple[str, dict[str, Any], int, int]]:
    """(label, target fields, prompt tokens, output tokens) for each point of the scenario."""
    shapes = [(p, o) for p in scenario.prompt_tokens for o in scenario.output_tokens]
    if scenario.kind == "concurrency":
        levels: list[tuple[str, dict[str, Any]]] = [
            (f"c={c}", {"concurrency": c, "target_rate_rps": None, "arrival": None}) for c in scenario.concurrency
        ]
    else:
        assert scenario.rate is not None
        fields = {"concurrency": None, "target_rate_rps": scenario.rate, "arrival": scenario.arrival}
        levels = [(f"rate={scenario.rate:g}", fields)]
    return [
        (label if len(shapes) == 1 else f"{label} p={p} o={o}", target, p, o)
        for p, o in shapes
        for label, target in levels
    ]


def run_load_scenario(backend: Backend, scenario: PerfScenario, *, seed: int, on_request: OnRequest) -> dict[str, Any]:
    """Run a concurrency sweep or a rate scenario; ``on_request`` gets one record per request.

    Returns ``{"scenario", "kind", "skipped" (reason or None), "points": [per-point summary]}``.
    The scenario's ``max_duration_s`` bounds the whole scenario; time is shared among the
    points still to run, so a slow point cannot starve the rest of the sweep.
    """
    result: dict[str, Any] = {"scenario": scenario.name, "kind": scenario.kind, "skipped": None, "points": []}
    if scenario.kind not in ("concurrency", "rate"):
        raise ValueError(f"run_load_scenario handles kind 'concurrency' or 'rate', not {scenario.kind!r}")
    if not backend.capabilities.concurrent:
        result["skipped"] = (
            f"backend of '{backend.name}' serves one request at a time in this process "
            "(capabilities.concurrent is false); concurrency and rate scenarios need a server backend such as 'openai'"
        )
        return result
    plan = [(rep, pt) for rep in range(scenario.repetitions) for pt in scenario_points(scenario)]
    t_start = time.perf_counter()
    scenario_deadline = t_start + scenario.max_duration_s
    for done, (repetition, (label, target, p_tokens, o_tokens)) in enumerate(plan):
        now = time.perf_counter()
        if now >= scenario_deadline:
            break
        budget = (scenario_deadline - now) / (len(plan) - done)
        deadline = now + budget
        point = _Point(label, scenario, repetition, p_tokens, o_tokens, backend, on_request, seed, t_start)
        if scenario.warmup:
            level = target["concurrency"] or 1
            _closed_loop(point, min(level, scenario.warmup), 0, scenario.warmup, True, deadline)
        window = time.perf_counter()
        if scenario.kind == "concurrency":
            sent = _closed_loop(point, target["concurrency"], scenario.warmup, scenario.requests, False, deadline)
        else:
            rate = float(target["target_rate_rps"])
            sent = _open_loop(point, rate, scenario.arrival, scenario.warmup, scenario.requests, deadline)
        result["points"].append(_summary(point, target, scenario.requests, sent, window))
    return result
