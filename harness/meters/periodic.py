"""A daemon thread that calls one function at a fixed interval: the loop every sampling meter shares."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    """Calls ``tick`` every ``interval_s`` seconds between ``start()`` and ``stop()``."""

    def __init__(self, tick: Callable[[], object], interval_s: float, name: str, join_s: float | None = 1.0) -> None:
        self._tick = tick
        self._interval_s = interval_s
        self._join_s = join_s  # how long stop() waits for a tick in progress (None: until it ends)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._tick()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._join_s)
