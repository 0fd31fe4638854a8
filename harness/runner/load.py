"""Load scenarios for server backends: closed loop (``c`` requests in flight) and open loop (a schedule).

Each request records how late the client sent it (``dispatch_delay_s``), so client overhead shows
next to server latency. Each runs in its own daemon thread with a deadline, so a hung endpoint
cannot hang the run; failed requests count in the error rate, never in latency figures.
"""

from __future__ import annotations

import dataclasses
import gc
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
from harness.results.columns import TOKEN_SPLIT_COLUMNS
from harness.secrets import clip
from harness.stats import summarize
from harness.traces import TraceRequest, read_trace, trace_path

OnRequest = Callable[[dict[str, Any]], None]
MAX_IN_FLIGHT = 1024  # open-loop guard: past this the client itself is the bottleneck (shows as dispatch delay)
_GRACE_S = 0.5
SATURATED_RATE_SHARE = 0.93  # completions below this share of the requested rate ...
QUEUE_GROWTH = 1.5  # ... while the late requests' TTFT grew past this multiple of the early ones'
# what each request record takes from its RequestTiming (ITL and the text stay out of load records)
_TIMING_FIELDS = (
    "prompt_tokens",
    "output_tokens",
    *TOKEN_SPLIT_COLUMNS,
    *REQUEST_COLUMNS,
    "token_count_source",
    "error",
)


@dataclass
class Deadline:
    """A backend's stream that fails at the request deadline: checked between chunks here, and handed
    to the backend (``timeout_s``) so that a network backend also cuts a silent stream."""

    backend: Backend
    deadline: float

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


def _call(backend: Backend, request: GenerationRequest, timeout_s: float) -> tuple[RequestTiming, float]:
    """(timing, when sent) of a request sent in its own thread; one still running at its deadline is
    recorded as a timeout and abandoned."""
    sent: list[float] = []
    timings: list[RequestTiming] = []

    def run() -> None:
        sent.append(time.perf_counter())
        timings.append(timed_generate(Deadline(backend, sent[0] + timeout_s), request))

    thread = threading.Thread(target=run, daemon=True, name="tierbench-load")
    thread.start()
    thread.join(timeout_s + _GRACE_S)
    if timings:
        return timings[0], sent[0]
    timeout = RequestTiming(0, 0, error=f"TimeoutError: no complete response within {timeout_s:g}s")
    return timeout, sent[0] if sent else time.perf_counter()


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
    prefix: str = ""  # the shared system prompt (prefix_tokens) every synthetic prompt starts with

    def prompt(self, tokens: int, seed: int) -> str:
        with self.lock:  # tokenizers are not all thread-safe
            return self.backend.make_prompt(tokens, seed=seed)

    def request(self, index: int, text: str | None = None) -> GenerationRequest:
        """Request ``index``: ``text`` (else a fresh synthetic prompt) after the shared prefix."""
        text = self.prompt(self.prompt_tokens, self.seed + index) if text is None else text
        return GenerationRequest(prompt=self.prefix + text, max_tokens=self.output_tokens, ignore_eos=True, seed=index)

    def execute(
        self, index: int, warmup: bool, scheduled: float, in_flight: int, request: GenerationRequest | None = None
    ) -> dict[str, Any]:
        timing, sent = _call(self.backend, request or self.request(index), self.scenario.request_timeout_s)
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
        record.update(_end=time.perf_counter(), _send=sent, _text=timing.text)
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

    _start_and_join(slot, concurrency, "tierbench-slot", point)
    return sent[0]


Arrivals = Iterator[tuple[float, GenerationRequest | None]]  # (seconds after the start, request or None: made up)


def _rate_arrivals(rate: float, arrival: str, rng: random.Random) -> Arrivals:
    """Due times at ``rate`` per second: constant spacing or Poisson arrivals."""
    due = 0.0
    while True:
        yield due, None
        due += rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate


def _trace_arrivals(point: _Point, requests: Iterator[TraceRequest]) -> Arrivals:
    """A trace's own arrival times; each request is made just before it is due (a trace may be huge)."""
    for index, row in enumerate(requests):
        prompt = row.prompt
        if prompt is None:
            assert row.prompt_tokens is not None
            prompt = point.prompt(row.prompt_tokens, point.seed + index)
        max_tokens = row.output_tokens or point.output_tokens
        yield row.at_s, GenerationRequest(prompt=prompt, max_tokens=max_tokens, ignore_eos=True, seed=index)


def _open_loop(point: _Point, arrivals: Arrivals, first_index: int, count: int, deadline: float) -> int:
    """Up to ``count`` requests, each sent when it is due whatever the server does."""
    start = time.perf_counter()
    threads: list[threading.Thread] = []
    in_flight = [0]

    def run(index: int, scheduled: float, request: GenerationRequest | None) -> None:
        with point.lock:
            in_flight[0] += 1
            level = in_flight[0]
        try:
            point.execute(index, False, scheduled, level, request)
        finally:
            with point.lock:
                in_flight[0] -= 1

    try:
        for index, (due, request) in zip(range(first_index, first_index + count), arrivals, strict=False):
            scheduled = start + due
            if scheduled > deadline or point.stop.is_set():
                break
            while (wait := scheduled - time.perf_counter()) > 0:
                time.sleep(min(wait, 0.25))
            while in_flight[0] >= MAX_IN_FLIGHT and time.perf_counter() < deadline:
                time.sleep(0.005)
            thread = threading.Thread(target=run, args=(index, scheduled, request), daemon=True, name="tierbench-open")
            thread.start()
            threads.append(thread)
    except BaseException:
        point.stop.set()
        raise
    _join(threads, point)
    return len(threads)  # one thread per request sent


def _start_and_join(target: Callable[[], None], count: int, name: str, point: _Point) -> None:
    """``count`` daemon threads running ``target``, waited for."""
    threads = [threading.Thread(target=target, daemon=True, name=name) for _ in range(count)]
    for thread in threads:
        thread.start()
    _join(threads, point)


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
    sends = sorted(r["_send"] for r in measured)

    def per_s(count: float) -> float:
        return count / duration if duration else math.nan

    has_slo = any(s is not None for s in (scenario.slo_ttft_s, scenario.slo_tpot_s, scenario.slo_e2e_s))
    good = sum(1 for r in ok if _slo_met(r, scenario)) if has_slo else None
    prices = getattr(getattr(point.backend, "spec", None), "prices", None)
    costs = [
        request_cost_usd(prices, r["prompt_tokens"], r["output_tokens"], r["reasoning_tokens"], r["cached_tokens"])
        for r in measured
    ]
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
        "achieved_rate_rps": (len(sends) - 1) / (sends[-1] - sends[0]) if sends and sends[-1] > sends[0] else math.nan,
        "throughput_rps": per_s(len(ok)),
        "output_tps": per_s(sum(int(r["output_tokens"] or 0) for r in ok)),
        "rate": target.get("target_rate_rps"),
        "goodput_rps": per_s(good) if good is not None else None,
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
    # the client sent late by a good share of what it measures: the figures are the client's, not the server's
    summary["client_limited"] = bool(
        summary["dispatch_delay_p95_s"] > scenario.client_limited_share * summary["ttft_p50_s"]
    )  # NaN compares false: no request, no verdict
    if target.get("target_rate_rps") is not None:
        summary["saturated"] = _saturated(ok, float(target["target_rate_rps"]))
    return summary


def _saturated(ok: list[dict[str, Any]], rate: float) -> bool:
    """Over-saturated: requests finished slower than they were sent *and* the queue grew over the point
    (the last third's TTFT well above the first third's). Either alone is noise at a short point."""
    if len(ok) < 6:
        return False
    ends = sorted(r["_end"] for r in ok)
    completion_rate = (len(ends) - 1) / max(ends[-1] - ends[0], 1e-9)
    by_send = [float(r["ttft_s"]) for r in sorted(ok, key=lambda r: r["_send"])]
    third = len(by_send) // 3
    early, late = sum(by_send[:third]) / third, sum(by_send[-third:]) / third
    return completion_rate < SATURATED_RATE_SHARE * rate and late > QUEUE_GROWTH * early


def shapes(scenario: PerfScenario) -> list[tuple[int, int]]:
    """Every (prompt tokens, output tokens) pair of the scenario."""
    return [(p, o) for p in scenario.prompt_tokens for o in scenario.output_tokens]


def scenario_points(scenario: PerfScenario) -> list[tuple[str, dict[str, Any], int, int]]:
    """(label, target fields, prompt tokens, output tokens) for each point of the scenario; a sweep's
    fixed points only (single stream and probe): its rates follow from what they measure."""
    if scenario.kind in ("concurrency", "sweep"):
        levels = [1, max(scenario.concurrency)] if scenario.kind == "sweep" else scenario.concurrency
        points: list[tuple[str, dict[str, Any]]] = [(f"c={c}", _closed(c)) for c in levels]
    elif scenario.kind == "sessions":  # one plan entry per shape; its turns become the points
        points = [("sessions", _closed(max(scenario.concurrency)))]
    elif scenario.kind == "trace":  # one point: the trace's own shapes and times
        return [("trace", _open(None, "trace"), scenario.prompt_tokens[0], scenario.output_tokens[0])]
    else:
        assert scenario.rate is not None
        points = [(f"rate={scenario.rate:g}", _open(scenario.rate, scenario.arrival))]
    pairs = shapes(scenario)
    return [
        (label if len(pairs) == 1 else f"{label} p={p} o={o}", target, p, o)
        for p, o in pairs
        for label, target in points
    ]


def point_count(scenario: PerfScenario) -> int:
    """Points a load scenario may run per repetition (a sweep's rates, and two past the probe, included)."""
    pairs = len(shapes(scenario))
    if scenario.kind == "sessions":
        return pairs * (scenario.turns + 1)
    rates = pairs * (scenario.sweep_rates + SWEEP_PAST_PROBE) if scenario.kind == "sweep" else 0
    return len(scenario_points(scenario)) + rates


def _closed(concurrency: int) -> dict[str, Any]:
    return {"concurrency": concurrency, "target_rate_rps": None, "arrival": None}


def _open(rate: float | None, arrival: str) -> dict[str, Any]:
    return {"concurrency": None, "target_rate_rps": rate, "arrival": arrival}


def shared_prefix(backend: Backend, scenario: PerfScenario, seed: int) -> str:
    """The system prompt every synthetic prompt of the scenario starts with ("" unless prefix_tokens is set)."""
    return backend.make_prompt(scenario.prefix_tokens, seed=seed) + "\n" if scenario.prefix_tokens else ""


@dataclass
class _Driver:
    """Runs the points of one load scenario, sharing ``max_duration_s`` among the points still to run."""

    backend: Backend
    scenario: PerfScenario
    seed: int
    on_request: OnRequest
    t_start: float = field(default_factory=time.perf_counter)
    prefix: str = ""

    def __post_init__(self) -> None:
        self.prefix = shared_prefix(self.backend, self.scenario, self.seed)

    @property
    def deadline(self) -> float:
        return self.t_start + self.scenario.max_duration_s

    def share(self, left: int) -> float:
        """A point's deadline: an even share of the scenario's remaining time among the ``left`` points to run."""
        now = time.perf_counter()
        return now + (self.deadline - now) / max(left, 1)

    def measure(
        self, repetition: int, label: str, target: dict[str, Any], shape: tuple[int, int], left: int
    ) -> dict[str, Any] | None:
        """One point's summary; None once the scenario is out of time. ``left``: points still to run."""
        if time.perf_counter() >= self.deadline:
            return None
        deadline, scenario = self.share(left), self.scenario
        point = self.point(label, repetition, shape)
        if scenario.warmup:
            level = target["concurrency"] or 1
            _closed_loop(point, min(level, scenario.warmup), 0, scenario.warmup, True, deadline)
        window = time.perf_counter()
        if target["concurrency"] is not None:
            sent = _closed_loop(point, target["concurrency"], scenario.warmup, scenario.requests, False, deadline)
        elif scenario.kind == "trace":
            assert scenario.trace is not None
            rows = read_trace(trace_path(scenario.trace), time_scale=scenario.time_scale, window_s=scenario.window_s)
            sent = _open_loop(point, _trace_arrivals(point, rows), scenario.warmup, scenario.requests, deadline)
            planned = sent if time.perf_counter() < deadline else scenario.requests
            # the trace's own shapes, request by request
            return {**_summary(point, target, planned, sent, window), "prompt_tokens": None, "output_tokens": None}
        else:
            rng = random.Random(point.seed * 7919 + point.repetition)
            arrivals = _rate_arrivals(float(target["target_rate_rps"]), target["arrival"], rng)
            sent = _open_loop(point, arrivals, scenario.warmup, scenario.requests, deadline)
        return _summary(point, target, scenario.requests, sent, window)

    def point(self, label: str, repetition: int, shape: tuple[int, int], lock: threading.Lock | None = None) -> _Point:
        point = _Point(label, self.scenario, repetition, *shape, self.backend, self.on_request, self.seed, self.t_start)
        point.prefix, point.lock = self.prefix, lock or point.lock
        return point

    def sessions(self, repetition: int, label: str, shape: tuple[int, int], left: int) -> list[dict[str, Any]]:
        """``requests`` conversations of ``turns`` turns, ``concurrency`` at once, one point per turn; the
        ``cold`` point rebuilds each last prompt with fresh user turns (same length, no shared history), so
        the TTFT a prefix cache saves shows as turn=N against cold."""
        scenario, deadline = self.scenario, self.share(left)
        lock, suffix = threading.Lock(), label.removeprefix("sessions")
        labels = [f"turn={k}{suffix}" for k in range(1, scenario.turns + 1)] + [f"cold{suffix}"]
        points = [self.point(name, repetition, shape, lock) for name in labels]
        at_once = max(scenario.concurrency)
        if scenario.warmup:
            _closed_loop(points[0], min(at_once, scenario.warmup), 0, scenario.warmup, True, deadline)
        window, conversations = time.perf_counter(), iter(range(scenario.warmup, scenario.warmup + scenario.requests))
        sent = [0] * len(points)

        def say(point: _Point, index: int, history: list[tuple[str, str]], user: str, due: float) -> dict[str, Any]:
            transcript = "".join(f"User: {u}\nAssistant: {a}\n" for u, a in history) + f"User: {user}\nAssistant:"
            with lock:
                sent[points.index(point)] += 1
            return point.execute(index, False, due, at_once, point.request(index, transcript))

        def converse() -> None:
            while time.perf_counter() < deadline and not points[0].stop.is_set():
                with lock:
                    index = next(conversations, None)
                if index is None:
                    return
                history: list[tuple[str, str]] = []
                due = time.perf_counter()
                for turn, point in enumerate(points[:-1]):
                    user = point.prompt(shape[0], self.seed + 1000 * index + turn)
                    record = say(point, index, history, user, due)
                    if record["error"] or time.perf_counter() >= deadline:
                        return
                    history.append((user, str(record["_text"])))
                    due = time.perf_counter() + scenario.think_time_s
                    time.sleep(scenario.think_time_s)
                fresh = [
                    (points[-1].prompt(shape[0], COLD_SEED + 1000 * index + t), a) for t, (_, a) in enumerate(history)
                ]
                say(points[-1], index, fresh[:-1], fresh[-1][0], time.perf_counter())

        _start_and_join(converse, at_once, "tierbench-session", points[0])
        target = _closed(at_once)
        summaries = [_summary(p, target, scenario.requests, n, window) for p, n in zip(points, sent, strict=True)]
        return [{**s, "prompt_tokens": None} for s in summaries]  # turns' prompts grow: see the requests

    def sweep(self, repetition: int, label: str, shape: tuple[int, int], later: int) -> list[dict[str, Any]]:
        """GuideLLM's sweep: single stream, a closed-loop throughput probe, then rates in even steps
        from the single-stream rate up to the probe's and on past it, stopping at the first point
        the data call over-saturated; the last point below it is the knee. ``later``: points after this sweep."""
        scenario, suffix = self.scenario, label.removeprefix("c=1")
        steps = scenario.sweep_rates + SWEEP_PAST_PROBE
        single = self.measure(repetition, label, _closed(1), shape, later + steps + 2)
        probe_level = max(scenario.concurrency)
        probe = self.measure(repetition, f"c={probe_level}{suffix}", _closed(probe_level), shape, later + steps + 1)
        points = [p for p in (single, probe) if p is not None]
        if single is None or probe is None:
            return points
        low, high = single["throughput_rps"], probe["throughput_rps"]
        if not (math.isfinite(low) and math.isfinite(high)) or high <= 0:
            return points
        step = max(high - low, 0.0) / scenario.sweep_rates or high / scenario.sweep_rates
        knee: dict[str, Any] | None = None
        for k in range(1, steps + 1):
            rate = low + k * step
            summary = self.measure(
                repetition, f"rate={rate:.4g}{suffix}", _open(rate, scenario.arrival), shape, later + steps - k + 1
            )
            if summary is None:
                break
            points.append(summary)
            if summary["saturated"]:
                break
            knee = summary
        for summary in points:
            summary["knee"] = summary is knee
        return points


COLD_SEED = 10**9  # a cold prompt's user turns: seeds no conversation uses
SWEEP_PAST_PROBE = 2  # rate steps a sweep takes beyond the probe's throughput, to see saturation in the data


def run_load_scenario(backend: Backend, scenario: PerfScenario, *, seed: int, on_request: OnRequest) -> dict[str, Any]:
    """Run a load scenario, ``on_request`` getting one record per request: ``{"scenario", "kind", "skipped",
    "points": [per-point summary]}`` (and a sweep's ``knee_rps``). ``max_duration_s`` bounds the whole
    scenario, shared among the points still to run so that a slow point cannot starve the rest."""
    result: dict[str, Any] = {"scenario": scenario.name, "kind": scenario.kind, "skipped": None, "points": []}
    if scenario.kind == "grid":
        raise ValueError("run_load_scenario handles load kinds, not 'grid'")
    if not backend.capabilities.concurrent:
        result["skipped"] = (
            f"backend of '{backend.name}' serves one request at a time in this process "
            "(capabilities.concurrent is false); load scenarios need a server backend such as 'openai'"
        )
        return result
    # a full garbage collection over everything loaded before (numpy, pandas, the backend) stalls every
    # thread for ~0.1 s, enough to make a burst of a trace late: those objects are left out of it meanwhile
    gc.freeze()
    try:
        _run_points(_Driver(backend, scenario, seed, on_request), result)
    finally:
        gc.unfreeze()
    return result


def _run_points(driver: _Driver, result: dict[str, Any]) -> None:
    """Each point of the plan into ``result["points"]``; a sweep's knee into ``result["knee_rps"]``."""
    scenario = driver.scenario
    step = 2 if scenario.kind == "sweep" else 1  # a sweep's points come in (single stream, probe) pairs
    plan = [(rep, pt) for rep in range(scenario.repetitions) for pt in scenario_points(scenario)[::step]]
    for done, (repetition, (label, target, p_tokens, o_tokens)) in enumerate(plan):
        left = len(plan) - done
        if scenario.kind == "sessions":
            result["points"] += driver.sessions(repetition, label, (p_tokens, o_tokens), left)
            continue
        if scenario.kind == "sweep":
            later = (left - 1) * (2 + scenario.sweep_rates + SWEEP_PAST_PROBE)
            result["points"] += driver.sweep(repetition, label, (p_tokens, o_tokens), later)
            continue
        summary = driver.measure(repetition, label, target, (p_tokens, o_tokens), left)
        if summary is None:
            break
        result["points"].append(summary)
    if scenario.kind == "sweep":
        knees = [p["rate"] for p in result["points"] if p.get("knee")]
        result["knee_rps"] = min(knees) if knees else None
