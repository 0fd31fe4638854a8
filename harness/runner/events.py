"""Events a worker sends its parent over a dedicated pipe (progress, phase, memory)."""

from __future__ import annotations

import json
import os
from typing import Any

from harness.secrets import redact_data

EVENT_FD_VARIABLE = "TIERBENCH_EVENT_FD"


class EventChannel:
    """Write JSON lines to the parent; silently a no-op when run without a parent."""

    def __init__(self) -> None:
        fd = os.environ.get(EVENT_FD_VARIABLE)
        self._fd = int(fd) if fd and fd.isdigit() else None

    def send(self, kind: str, **fields: Any) -> None:
        if self._fd is None:
            return
        line = (json.dumps(redact_data({"type": kind, **fields}), default=str) + "\n").encode()
        try:
            os.write(self._fd, line)
        except OSError:
            self._fd = None  # the parent went away; keep measuring, stop reporting
