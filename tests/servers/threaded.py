"""Serve a test HTTP handler on a free loopback port in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
