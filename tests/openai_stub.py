"""A scripted OpenAI-compatible server on 127.0.0.1 for tests of our own failure handling.

It records every request's headers (so a test can prove a key was really sent) and answers in
one of three ways: ``stream`` (a short SSE completion with usage), ``hang`` (accept the request
and never answer, to exercise timeouts) or ``echo`` (an HTTP 400 whose body quotes every header
and the body it received, HTTP Basic credentials decoded, as careless proxies do, to exercise
redaction of error messages). ``echo_in_stream`` makes a successful stream quote them as well.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from servers.threaded import JsonHandler, serve


@dataclass
class StubState:
    mode: str = "stream"  # stream | hang | echo | alternate (stream, then echo, then stream ...)
    tokens: int = 4
    seen: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    posts: int = 0
    echo_in_stream: bool = False
    pad: int = 0  # characters before the quote, to put a secret across a truncation boundary
    # seconds to wait before each streamed token, by the request's model id: a scripted slower endpoint
    token_delay_s: dict[str, float] = field(default_factory=dict)


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def _quote(self, body: Any) -> str:
            """Every header (Authorization first, Basic credentials decoded) and the body, padded."""
            headers = {"Authorization": self.headers.get("Authorization"), **dict(self.headers)}
            auth = str(headers["Authorization"] or "")
            if auth.startswith("Basic "):
                headers["Authorization"] = f"Basic {base64.b64decode(auth[6:]).decode()} ({auth[6:]})"
            return "." * state.pad + json.dumps(headers) + " body=" + json.dumps(body)

        def do_GET(self) -> None:
            state.seen.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
            self.send_json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.seen.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
            state.posts += 1
            mode = state.mode
            if mode == "alternate":
                mode = "stream" if state.posts % 2 else "echo"
            if mode == "hang":
                state.release.wait(600)
                return
            if mode == "echo":
                self.send_json(400, {"error": {"message": f"Incorrect API key provided: {self._quote(body)}"}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            delay = state.token_delay_s.get(str(body.get("model")), 0.0)
            for i in range(state.tokens):
                if delay:
                    time.sleep(delay)
                text = f" w{i} {self._quote(body)}" if state.echo_in_stream and i == 0 else f" w{i}"
                event = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            usage = {"prompt_tokens": 8, "completion_tokens": state.tokens, "total_tokens": 8 + state.tokens}
            final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}], "usage": usage}
            self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def openai_stub(mode: str = "stream", echo_in_stream: bool = False, pad: int = 0) -> Iterator[tuple[str, StubState]]:
    """Serve on a free port; yields (base_url ending in /v1, state)."""
    state = StubState(mode=mode, echo_in_stream=echo_in_stream, pad=pad)
    with serve(_handler(state), state.release.set) as base_url:
        yield base_url, state


def stub_catalog(path: Path, url: str) -> Path:
    """A catalog at ``path`` with one model, ``stub``, served by the stub at ``url`` (no retries)."""
    params = {"model": "stub-model", "base_url": url, "max_retries": 0}
    path.write_text(json.dumps({"models": [{"name": "stub", "tier": "full", "backend": "openai", "params": params}]}))
    return path
