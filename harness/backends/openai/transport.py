"""HTTP to an OpenAI-compatible endpoint: the connection pool, headers, one request, and the deadline watchdog.

Nothing here retries (``policy``) or reads events (``stream``). Every error text goes through
``redact``: the API key and secret headers are never logged, echoed or written anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from typing import Any

import httpx

from harness.backends.openai.params import OpenAIParams
from harness.errors import BackendUnavailable
from harness.secrets import Redactor, clip, secrets_of_params, strip_credentials, url_password


class EndpointError(RuntimeError):
    """A request to the endpoint failed; the message never contains a secret."""


class Transport:
    """One endpoint's connection pool and what every request to it carries."""

    def __init__(self, params: OpenAIParams) -> None:
        self.params = params
        self.url = params.endpoint()
        self.shown = strip_credentials(self.url) if self.url else None  # as it may be shown and stored
        own = secrets_of_params(params.model_dump())
        if self.url and (password := url_password(self.url)):
            own.append(password)
        self._redactor = Redactor(own)
        limit = params.max_concurrency or 64  # every request states its own timeouts
        self.client = httpx.Client(limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit))

    def redact(self, text: str) -> str:
        """``text`` through the process's redaction step, knowing this endpoint's secrets too."""
        return clip(self._redactor.text(text), 2000)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", **self.params.headers}
        if key := self.params.key():
            headers["Authorization"] = f"Bearer {key}"
        for header, env in self.params.header_env.items():
            if value := os.environ.get(env):
                headers[header] = value
        return headers

    def probe(self) -> list[str] | None:
        """Prove the endpoint answers (BackendUnavailable if not); the model names it lists, if any."""
        try:
            response = self.client.get(
                f"{self.url}/models", headers=self.headers(), timeout=min(self.params.connect_timeout_s, 10.0)
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(self.redact(f"cannot reach {self.shown}: {describe_http_error(exc)}")) from None
        if response.status_code in {401, 403}:
            who = self.params.api_key_env or "the API key"
            raise BackendUnavailable(f"{self.shown} refused the credentials (HTTP {response.status_code}): check {who}")
        if response.status_code == 200:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                return [str(m.get("id")) for m in response.json().get("data", [])]
        return None

    def send(self, path: str, body: dict[str, Any], deadline: float) -> httpx.Response:
        """POST ``body`` once and return the response, any status, with its body still unread."""
        # waiting for the response headers is bounded by the deadline too; a reasoning model may hold them
        # back while it thinks, so the first-token wait bounds every read (the Watchdog cuts a stall sooner)
        silence = max(self.params.stall_timeout_s, self.params.first_token_wait())
        wait = max(min(silence, deadline - time.monotonic()), 1e-3)
        connect = self.params.connect_timeout_s
        timeout = httpx.Timeout(connect=connect, read=wait, write=connect, pool=wait)
        request = self.client.build_request(
            "POST", f"{self.url}{path}", json=body, headers=self.headers(), timeout=timeout
        )
        return self.client.send(request, stream=True)

    def error_detail(self, response: httpx.Response) -> str:
        """The server's error message, redacted *before* it is shortened (a cut must not leave a key's prefix)."""
        try:
            raw = response.read()
        except httpx.HTTPError:
            return ""
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                data = data["error"].get("message") or data["error"]
        except ValueError:
            data = raw.decode("utf-8", "replace")
        return short(self.redact(data if isinstance(data, str) else json.dumps(data, default=str)))

    def close(self) -> None:
        self.client.close()


class Watchdog:
    """Cut a response's connection at the request deadline, or at a silence longer than ``first_wait``
    before the first token (a reasoning model thinks first), then ``stall`` between events.

    httpx's read timeout bounds each silence, not the request, and a server trickling a byte at a time
    never completes an event for the reader to check the clock: so a thread shuts the socket down,
    which wakes the blocked read. No retry or SSE library has this."""

    def __init__(self, response: httpx.Response, deadline: float, first_wait: float, stall: float) -> None:
        self.fired = False  # the deadline passed
        self.stalled = False  # a silence passed its limit
        self.heard_token = False
        self._response = response
        self._deadline = deadline
        self._first_wait = first_wait
        self._first_by = time.monotonic() + first_wait
        self._stall = stall
        self._last = 0.0
        self._closed = False
        self._wake = threading.Event()  # the limit moved sooner (the first token came), or the request ended
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def heard(self, token: bool) -> None:
        """An event arrived (``token``: it carried answer or reasoning text)."""
        self._last = time.monotonic()
        if token and not self.heard_token:  # from the first-token wait to the (shorter) stall limit
            self.heard_token = True
            self._wake.set()

    def silence(self) -> str:
        """Why a silent stream was cut (the limit it passed), for the error."""
        if self.heard_token:
            return f"no data for {self._stall:g}s mid-stream (server stalled)"
        return f"no first token for {self._first_wait:g}s (server stalled before answering; think_timeout_s)"

    def _due(self) -> float:
        return min(self._deadline, self._last + self._stall if self.heard_token else self._first_by)

    def _watch(self) -> None:
        while True:
            self._wake.wait(max(self._due() - time.monotonic(), 0.0))
            self._wake.clear()
            if self._closed:
                return
            now = time.monotonic()
            if now >= self._due():
                self.fired = now >= self._deadline
                self.stalled = not self.fired
                self._cut()
                return

    def _cut(self) -> None:
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:  # no socket to shut (another transport): closing the response is the next best thing
            with contextlib.suppress(Exception):
                self._response.close()

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._wake.set()


def describe_http_error(exc: httpx.HTTPError) -> str:
    kinds = {
        httpx.ConnectError: "connection refused or host unreachable",
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "server did not answer in time",
        httpx.RemoteProtocolError: "server closed the connection",
    }
    return next((text for kind, text in kinds.items() if isinstance(exc, kind)), f"{type(exc).__name__}: {exc}")


def short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
