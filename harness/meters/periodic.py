"""A daemon thread that calls one function at a fixed interval: the loop every sampling meter shares."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    """Calls ``tick`` every ``interval_s`` seconds between ``start()`` and ``stop()``.

    The first error of a type in ``catch`` ends the ticking and is kept in ``error`` for the owner to
    report: ticking on after a failed read would add nothing."""

    def __init__(
        self,
        tick: Callable[[], object],
        interval_s: float,
        name: str,
        join_s: float | None = 1.0,
        catch: tuple[type[Exception], ...] = (),
    ) -> None:
        self._tick = tick
        self._interval_s = interval_s
        self._join_s = join_s  # how long stop() waits for a tick in progress (None: until it ends)
        self._catch = catch
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._tick()
            except self._catch as exc:
                self.error = str(exc)
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._join_s)
