"""Serve a test HTTP handler on a free loopback port in a background thread, and the JSON reply every
fake endpoint sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler (no request log in the test output) that can answer with one JSON body."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # concurrent clients: the default backlog of 5 drops connections under a burst


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], on_stop: Callable[[], None], port: int = 0) -> Iterator[str]:
    """Yield the base URL (ending in /v1); ``on_stop`` releases held requests before shutdown; port 0: a free one."""
    server = _Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        on_stop()
        server.shutdown()
        server.server_close()
