"""A small OpenAI-compatible server on 127.0.0.1 that misbehaves on purpose.

The requested model name picks the behaviour, so one server serves every fault case:

- ``ok``: streams ``tokens`` chunks (``delay_s`` apart), a finish_reason, a usage chunk, [DONE].
- ``ok-no-usage``: the same without the usage chunk.
- ``429-then-ok``: answers 429 with ``Retry-After`` to the first two requests, then ``ok``.
- ``always-429`` / ``always-503``: never recovers.
- ``500-echo``: HTTP 500 whose body quotes the Authorization header (as careless proxies do).
- ``malformed``: a 200 stream whose second event is not JSON.
- ``hang``: sends one chunk, then never another byte.
- ``trickle``: sends one chunk, then a space every ``delay_s`` (never a whole line) until stopped.
- ``truncated``: sends two chunks, then closes the connection (no finish_reason, no [DONE]).
- ``html``: a 200 "stream" that is an HTML error page.
- ``flaky``: every third request fails with HTTP 400 (not retried), the others are ``ok``.
- ``answer``: streams an answer that depends on the prompt (the last ``Q: a + b`` in it: right for
  some prompts, wrong for others), word by word, each with a token log-probability.
- ``answer-429``: the same, but every ``throttle_every``-th request is answered 429 with ``Retry-After``
  (never a retry of a prompt already throttled: a fixed every-third pattern could otherwise catch one
  item's every attempt when its retries happen to land on those slots, and the client gives up).

``ttft_s`` holds every stream's first token back that long (a fixed time to first token). ``slots``
(0: unlimited) gives the server a known capacity: that many requests are served at once and the
rest wait in a queue, so ``slots / (ttft_s + delay_s * (tokens - 1))`` requests per second saturate it. A request
without ``"stream": true`` (lm-eval's own API models) gets the whole answer as one JSON body after the
same delays.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from servers.threaded import JsonHandler, serve


@dataclass
class FaultState:
    """What the server saw; tests read it."""

    tokens: int = 4
    delay_s: float = 0.0
    retry_after: str = "0.2"
    ttft_s: float = 0.0
    throttle_every: int = 3
    requests: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    throttled_prompts: set[str] = field(default_factory=set)
    in_flight: int = 0
    max_in_flight: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    slots: int = 0
    gate: threading.Semaphore | None = None


def _event(model: str, text: str | None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "text": text or "", "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _handler(state: FaultState) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

        def _write(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                if self.headers.get("Authorization") == "Bearer rejected-key":
                    self.send_json(401, {"error": {"message": "invalid api key"}})
                    return
                self.send_json(200, {"object": "list", "data": [{"id": "fault-server"}]})
            else:
                self.send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            model = str(body.get("model", "ok"))
            prompt = str(body.get("prompt", ""))
            with state.lock:
                n = state.counts.get(model, 0)
                state.counts[model] = n + 1
                throttled = (
                    model == "answer-429"
                    and n % state.throttle_every == state.throttle_every - 1
                    and prompt not in state.throttled_prompts
                )
                if throttled:
                    state.throttled_prompts.add(prompt)
                state.requests.append(
                    {
                        "t": time.monotonic(),
                        "path": self.path,
                        "model": model,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
            if (model == "429-then-ok" and n < 2) or model == "always-429" or throttled:
                self.send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": state.retry_after})
            elif model == "always-503":
                self.send_json(503, {"error": {"message": "overloaded"}})
            elif model == "500-echo":
                self.send_json(500, {"error": {"message": f"upstream failed for {self.headers.get('Authorization')}"}})
            elif model == "flaky" and n % 3 == 2:
                self.send_json(400, {"error": {"message": "bad request (scripted)"}})
            elif model == "html":
                self._start_stream()
                self._write(b"<html><body>502 Bad Gateway</body></html>\n")
            else:
                if state.gate is not None:
                    state.gate.acquire()
                with state.lock:
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                try:
                    if model.startswith("answer") and not body.get("stream"):
                        self._answer_json(body)
                    else:
                        self._stream(model, body)
                finally:
                    with state.lock:
                        state.in_flight -= 1
                    if state.gate is not None:
                        state.gate.release()

        def _answer_json(self, body: dict[str, Any]) -> None:
            words = _answer_words(body)
            time.sleep(state.ttft_s + state.delay_s * (len(words) - 1))
            text = "".join(words)
            usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
            choice.update({"message": {"role": "assistant", "content": text}} if "messages" in body else {"text": text})
            self.send_json(200, {"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage})

        def _stream(self, model: str, body: dict[str, Any]) -> None:
            self._start_stream()
            self._write(b": ping\n\n")
            if model.startswith("answer"):
                self._stream_answer(model, body)
                return
            limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or state.tokens)
            n = min(state.tokens, limit)
            time.sleep(state.ttft_s)
            for i in range(n):
                if i:
                    time.sleep(state.delay_s)
                if model == "malformed" and i == 1:
                    self._write(b"data: {this is not json\n\n")
                    return
                if model == "hang" and i == 1:
                    state.stop.wait(60)
                    return
                if model == "trickle" and i == 1:
                    while not state.stop.wait(0.1):
                        self._write(b" ")
                    return
                if model == "truncated" and i == 2:
                    return
                self._write(_event(model, f" t{i}"))
            self._write(_event(model, None, "length"))
            if model != "ok-no-usage":
                usage = {"prompt_tokens": 11, "completion_tokens": n, "total_tokens": 11 + n}
                self._write(f"data: {json.dumps({'id': 'x', 'choices': [], 'usage': usage})}\n\n".encode())
            self._write(b"data: [DONE]\n\n")

        def _stream_answer(self, model: str, body: dict[str, Any]) -> None:
            words = _answer_words(body)
            time.sleep(state.ttft_s)
            for i, word in enumerate(words):
                if i:
                    time.sleep(state.delay_s)
                event = json.loads(_event(model, word)[len(b"data: ") :])
                logprob = -0.25 * (i + 1)  # chat and completions layouts both
                event["choices"][0]["logprobs"] = {
                    "content": [{"token": word, "logprob": logprob}],
                    "token_logprobs": [logprob],
                }
                self._write(f"data: {json.dumps(event)}\n\n".encode())
            self._write(_event(model, None, "stop"))
            usage = {"prompt_tokens": 11, "completion_tokens": len(words), "total_tokens": 11 + len(words)}
            self._write(f"data: {json.dumps({'id': 'x', 'choices': [], 'usage': usage})}\n\n".encode())
            self._write(b"data: [DONE]\n\n")

    return Handler


def _answer_words(body: dict[str, Any]) -> list[str]:
    """A deterministic answer to the request's prompt: the sum or difference of its last ``Q: a op b``
    for about half of the prompts (by a hash), off by one for the others; three words otherwise."""
    prompt = str(body.get("prompt") or "".join(str(m.get("content", "")) for m in body.get("messages") or []))
    found = re.findall(r"Q: (-?\d+) ([-+*x]) (-?\d+)", prompt)
    digest = hashlib.sha256(prompt.encode()).digest()[0]
    if not found:
        return [" w" + str(digest % 7), " w" + str(digest % 5), " w" + str(digest % 3)]
    a, op, b = found[-1]
    value = int(a) + int(b) if op == "+" else int(a) - int(b) if op == "-" else int(a) * int(b)
    return [f" {value + (digest % 2)}", "\n"]


@contextmanager
def fault_server(
    tokens: int = 4, delay_s: float = 0.0, ttft_s: float = 0.0, throttle_every: int = 3, slots: int = 0
) -> Iterator[tuple[str, FaultState]]:
    """(base URL ending in /v1, state) of a running fault server; stopped on exit."""
    state = FaultState(tokens=tokens, delay_s=delay_s, ttft_s=ttft_s, throttle_every=throttle_every, slots=slots)
    state.gate = threading.BoundedSemaphore(slots) if slots else None
    with serve(_handler(state), state.stop.set) as base_url:
        yield base_url, state
