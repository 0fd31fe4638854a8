"""How many evaluation requests are in flight at once, and the pool that keeps to it.

The limit adapts like TCP's congestion window (AIMD): it halves when the endpoint throttles (429, or
503 with Retry-After) and grows by one after ``GROW_AFTER`` unthrottled requests, up to the ceiling.
Only the backend call runs in the pool's threads, so sinks need no locks; a ceiling of 1 runs the
calls in the caller's thread, in order: exactly the sequential evaluation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TypeVar

from harness.backends.base import Backend, ConcurrencyCapped

DEFAULT_EVAL_CONCURRENCY = 8  # requests in flight for a concurrent backend whose catalog states no cap
GROW_AFTER = 8  # unthrottled requests at the current limit before it grows by one

Item = TypeVar("Item")
Result = TypeVar("Result")


def eval_concurrency(backend: Backend, requested: int | None) -> int:
    """Requests in flight for ``backend``: 1 unless it is concurrent; then ``--eval-concurrency`` or
    the default, never above the catalog's ``max_concurrency``."""
    if not backend.capabilities.concurrent:
        return 1
    cap = backend.max_concurrency if isinstance(backend, ConcurrencyCapped) else None
    wanted = requested if requested is not None else (cap or DEFAULT_EVAL_CONCURRENCY)
    return max(1, min(wanted, cap) if cap else wanted)


@dataclass(frozen=True)
class PacingStats:
    """What the evaluation of one cell did with its concurrency."""

    ceiling: int  # the most it was allowed in flight
    peak_in_flight: int  # the most it had in flight at once (0: no request was sent)
    throttled_requests: int  # requests the endpoint throttled at least once (waited out, then retried)
    requests: int  # requests sent


class AdaptiveLimit:
    """Additive-increase, multiplicative-decrease limit on requests in flight (thread-safe)."""

    def __init__(self, ceiling: int, grow_after: int = GROW_AFTER) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self.ceiling = ceiling
        self.limit = ceiling
        self._grow_after = grow_after
        self._in_flight = 0
        self._peak = 0
        self._successes = 0
        self._throttled = 0
        self._requests = 0
        self._epoch = 0  # bumped at each decrease: one burst of throttled requests halves the limit once
        self._cond = threading.Condition()

    def acquire(self) -> int:
        """Wait for a free slot; return the ticket ``release`` needs."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
            self._requests += 1
            self._peak = max(self._peak, self._in_flight)
            return self._epoch

    def release(self, ticket: int, throttled: bool) -> None:
        """Free the slot; a throttled request halves the limit (once per burst), others help it grow."""
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self._throttled += 1
                self._successes = 0
                if ticket == self._epoch:  # sent before the last decrease took effect: already answered for
                    self.limit = max(1, self.limit // 2)
                    self._epoch += 1
            else:
                self._successes += 1
                if self._successes >= self._grow_after and self.limit < self.ceiling:
                    self.limit += 1
                    self._successes = 0
            self._cond.notify_all()

    def stats(self) -> PacingStats:
        with self._cond:
            return PacingStats(self.ceiling, self._peak, self._throttled, self._requests)


def paced(
    limit: AdaptiveLimit,
    items: Sequence[Item],
    call: Callable[[Item], Result],
    throttled: Callable[[Result], bool] = lambda _: False,
) -> Iterator[tuple[Item, Result]]:
    """``(item, call(item))`` for every item, at most ``limit`` calls at once, in completion order.
    An exception from ``call`` is raised once the running calls finish; calls not yet started are dropped."""

    def one(item: Item) -> Result:
        ticket = limit.acquire()
        was_throttled = False
        try:
            result = call(item)
            was_throttled = throttled(result)
            return result
        finally:
            limit.release(ticket, was_throttled)

    if limit.ceiling == 1 or len(items) <= 1:
        for item in items:
            yield item, one(item)
        return
    with ThreadPoolExecutor(max_workers=min(limit.ceiling, len(items)), thread_name_prefix="eval") as pool:
        futures: dict[Future[Result], Item] = {pool.submit(one, item): item for item in items}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()
