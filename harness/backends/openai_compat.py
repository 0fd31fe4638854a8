"""Any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server, a proxy) over HTTP.

The harness times the stream itself, so this backend only turns server-sent events into
chunks. Token counts come from the server's ``usage`` (requested with
``stream_options.include_usage``); when a server sends none, the output is re-tokenized with a
configured local tokenizer and labelled ``retokenized`` (or counted in chunks, labelled
``chunks``). The API key is read from the environment variable the catalog names and is never
logged, echoed or written anywhere: every error text is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.backends.costing import request_cost_usd
from harness.backends.plugin import BackendPlugin
from harness.backends.text import random_words
from harness.backends.tokenizer_fallback import FallbackTokenizer, load_fallback_tokenizer
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable
from harness.secrets import Redactor, clip, secrets_of_params, strip_credentials, url_password

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


class OpenAIParams(BaseModel):
    """Settings of an OpenAI-compatible model in the catalog."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = Field(min_length=1, description="Model name the server expects (e.g. gpt-5-mini).")
    api: Literal["chat", "completions", "auto"] = Field(
        default="chat",
        description="chat: always /chat/completions (the server applies its template; OpenAI's GPT-5 has only "
        "this); completions: always /completions with the raw prompt; auto: chat requests to /chat/completions, "
        "plain prompts to /completions, exactly as an in-process backend treats them (llama.cpp server, vLLM).",
    )
    base_url: str | None = Field(default=None, description="Endpoint root, e.g. https://api.openai.com/v1.")
    base_url_env: str | None = Field(default=None, description="Environment variable that overrides base_url.")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the API key.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra (non-secret) request headers.")
    header_env: dict[str, str] = Field(
        default_factory=dict, description="Secret headers: header name -> environment variable holding its value."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields for every request (e.g. {ignore_eos: true} for vLLM)."
    )
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens", description="GPT-5 and o-series models take max_completion_tokens."
    )
    send_temperature: bool = Field(default=True, description="False for models that reject a temperature.")
    send_seed: bool = True
    logprobs: bool = Field(
        default=True,
        description="Ask for token log-probabilities on evaluation requests (confidence signals); false for "
        "endpoints that reject the field (OpenAI's reasoning models). Perf requests never ask.",
    )
    timeout_s: float = Field(default=120.0, gt=0, description="Deadline for one whole request.")
    stall_timeout_s: float = Field(default=30.0, gt=0, description="Longest silence allowed mid-stream.")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20, description="Retries on 429/5xx/connection errors.")
    backoff_s: float = Field(default=0.5, ge=0, description="First retry delay when there is no Retry-After.")
    max_backoff_s: float = Field(default=30.0, ge=0, description="Longest wait between retries.")
    max_concurrency: int | None = Field(default=None, ge=1, description="Requests in flight at once (None: no cap).")
    tokenizer: str | None = Field(
        default=None,
        description="Fallback tokenizer when the server sends no usage: a GGUF path, 'package:file.gguf', "
        "or a local Hugging Face tokenizer directory.",
    )

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in _SECRET_HEADERS:
                raise ValueError(
                    f"header '{name}' carries a secret; name an environment variable in 'header_env' instead"
                )
        return headers


class EndpointError(RuntimeError):
    """A request to the endpoint failed; the message never contains a secret."""


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _is_throttle(status: int, retry_after: float | None) -> bool:
    """The endpoint asks us to slow down: 429, or 503 with a Retry-After (a 503 without one is an outage)."""
    return status == 429 or (status == 503 and retry_after is not None)


def _is_local(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


class OpenAICompatBackend:
    """A model served behind an OpenAI-compatible HTTP API."""

    capabilities = Capabilities(loglikelihood=False, streaming=True, concurrent=True, chat=True)

    def __init__(self, spec: ModelSpec, params: OpenAIParams) -> None:
        self.spec = spec
        self.name = spec.name
        self.params = params
        self._client: httpx.Client | None = None
        self._slots: threading.BoundedSemaphore | None = (
            threading.BoundedSemaphore(self.params.max_concurrency) if self.params.max_concurrency else None
        )
        self._tokenizer: FallbackTokenizer | None = None
        self._server_models: list[str] | None = None

    # -- configuration ------------------------------------------------------------------------
    def base_url(self) -> str | None:
        return _base_url(self.params)

    def public_url(self) -> str | None:
        """The endpoint as it may be shown and stored: without ``user:pass@``."""
        url = self.base_url()
        return strip_credentials(url) if url else None

    def redact(self, text: str) -> str:
        """``text`` through the process's redaction step, knowing this backend's secrets too."""
        own = secrets_of_params(self.params.model_dump())
        url = self.base_url()
        if url and (password := url_password(url)):
            own.append(password)
        return clip(Redactor(own).text(text), 2000)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", **self.params.headers}
        key = _api_key(self.params)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        for header, env in self.params.header_env.items():
            value = os.environ.get(env)
            if value:
                headers[header] = value
        return headers

    # -- lifecycle ----------------------------------------------------------------------------
    def load(self) -> None:
        """Open the connection pool and prove the endpoint answers; raise BackendUnavailable if not."""
        reason = _check(self.spec, self.params)
        if reason:
            raise BackendUnavailable(reason)
        limit = self.params.max_concurrency or 64
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=self.params.connect_timeout_s,
                read=self.params.stall_timeout_s,
                write=self.params.connect_timeout_s,
                pool=self.params.timeout_s,
            ),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        self._probe()
        if self.params.tokenizer:
            self._tokenizer = load_fallback_tokenizer(self.params.tokenizer)

    def _probe(self) -> None:
        url = f"{self.base_url()}/models"
        try:
            response = self.client.get(url, headers=self._headers(), timeout=min(self.params.connect_timeout_s, 10.0))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                self.redact(f"cannot reach {self.public_url()}: {_describe_http_error(exc)}")
            ) from None
        if response.status_code in {401, 403}:
            who = self.params.api_key_env or "the API key"
            raise BackendUnavailable(
                f"{self.public_url()} refused the credentials (HTTP {response.status_code}): check {who}"
            )
        if response.status_code == 200:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                self._server_models = [str(m.get("id")) for m in response.json().get("data", [])]

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            raise RuntimeError("backend not loaded")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- tokens -------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens by the fallback tokenizer, else an estimate (4 characters a token)."""
        if self._tokenizer is not None:
            return self._tokenizer.count(text)
        return max(1, round(len(text) / 4)) if text else 0

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        """Random common words: exact under a fallback tokenizer, else about one token a word."""
        words = random_words(n_tokens, seed)
        if self._tokenizer is not None:
            return self._tokenizer.truncate(words, n_tokens)
        return " ".join(words.split()[:n_tokens])

    # -- generation ---------------------------------------------------------------------------
    def _uses_chat(self, request: GenerationRequest) -> bool:
        return self.params.api == "chat" or (self.params.api == "auto" and request.chat)

    def _body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        p = self.params
        body: dict[str, Any] = {"model": p.model, "stream": True, "stream_options": {"include_usage": True}}
        if self._uses_chat(request):
            path = "/chat/completions"
            body["messages"] = [{"role": "user", "content": request.prompt}]
        else:
            path = "/completions"
            body["prompt"] = request.prompt
        body[p.max_tokens_field] = request.max_tokens
        if p.send_temperature:
            body["temperature"] = request.temperature
        if p.send_seed:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.logprobs and p.logprobs:
            body.update({"logprobs": True, "top_logprobs": 1} if "messages" in body else {"logprobs": 1})
        body.update(p.extra_body)
        return path, body

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.params.max_backoff_s)
        delay = self.params.backoff_s * (2**attempt)
        return float(min(delay * (0.5 + random.random() / 2), self.params.max_backoff_s))

    @property
    def max_concurrency(self) -> int | None:
        """The catalog's cap on requests in flight at once (None: no cap stated)."""
        return self.params.max_concurrency

    def _open(
        self, stack: contextlib.ExitStack, path: str, body: dict[str, Any], deadline: float, usage: StreamUsage
    ) -> httpx.Response:
        """Send the request, retrying 429/5xx/connection errors with backoff; return a 200 response.

        The one retry policy of this backend: a ``Retry-After`` (seconds or an HTTP date) is waited out
        (up to ``max_backoff_s`` and the request deadline), otherwise exponential backoff with jitter;
        at most ``max_retries`` retries. A throttling answer (429, or 503 with Retry-After) is counted
        in ``usage.throttled`` so that a caller sending requests concurrently can send fewer at once.
        """
        url = f"{self.base_url()}{path}"
        shown = f"{self.public_url()}{path}"
        last = ""
        for attempt in range(self.params.max_retries + 1):
            retry_after: float | None = None
            try:
                # waiting for the response headers is bounded by the deadline too
                wait = max(min(self.params.stall_timeout_s, deadline - time.monotonic()), 1e-3)
                timeout = httpx.Timeout(
                    connect=self.params.connect_timeout_s, read=wait, write=self.params.connect_timeout_s, pool=wait
                )
                response = stack.enter_context(
                    self.client.stream("POST", url, json=body, headers=self._headers(), timeout=timeout)
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
                last = _describe_http_error(exc)
            else:
                if response.status_code == 200:
                    return response
                detail = _error_detail(response, self.redact)
                last = f"HTTP {response.status_code}{': ' + detail if detail else ''}"
                if response.status_code not in RETRYABLE_STATUS:
                    raise EndpointError(self.redact(f"{shown}: {last}"))
                retry_after = _retry_after_s(response.headers.get("retry-after"))
                if _is_throttle(response.status_code, retry_after):
                    usage.throttled += 1
                response.close()
            if attempt == self.params.max_retries:
                break
            wait = self._backoff(attempt, retry_after)
            if time.monotonic() + wait > deadline:
                raise EndpointError(
                    self.redact(f"{shown}: {last}; no time left for a retry before the request deadline")
                )
            time.sleep(wait)
        tries = self.params.max_retries + 1
        raise EndpointError(self.redact(f"{shown}: {last} (gave up after {tries} attempt{'s' if tries > 1 else ''})"))

    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        path, body = self._body(request)
        chat = self._uses_chat(request)
        slots = self._slots if self._slots is not None else contextlib.nullcontext()
        limit = min(self.params.timeout_s, request.timeout_s or self.params.timeout_s)
        with slots, contextlib.ExitStack() as stack:
            deadline = time.monotonic() + limit
            overdue = f"request exceeded its {limit:g}s deadline mid-stream"
            response = self._open(stack, path, body, deadline, usage)
            watchdog = stack.enter_context(_Deadline(response, deadline))
            parts: list[str] = []
            chunks = 0
            server_usage: dict[str, Any] | None = None
            finish = ""
            done = False
            logprobs: list[float] | None = None  # stays None when the endpoint sends none
            try:
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise EndpointError(overdue)
                    event = _parse_sse_line(line)
                    if event is None:
                        continue
                    if isinstance(event, str):  # "[DONE]"
                        done = True
                        break
                    if event.get("error"):
                        detail = _short(self.redact(str(event["error"])))
                        raise EndpointError(self.redact(f"server error mid-stream: {detail}"))
                    if isinstance(event.get("usage"), dict):
                        server_usage = event["usage"]
                    text, reason, values = _choice_delta(event, chat)
                    finish = reason or finish
                    if request.logprobs and values:
                        logprobs = [*(logprobs or []), *values]
                    if text:
                        chunks += 1
                        parts.append(text)
                        yield Chunk(text, 1)
            except httpx.HTTPError as exc:
                if watchdog.fired or time.monotonic() > deadline:
                    raise EndpointError(f"{overdue} (no complete event)") from None
                if not isinstance(exc, httpx.ReadTimeout):
                    raise EndpointError(self.redact(f"stream broke: {_describe_http_error(exc)}")) from None
                raise EndpointError(
                    f"no data for {self.params.stall_timeout_s:g}s mid-stream (server stalled)"
                ) from None
            except EndpointError as exc:  # a malformed event quotes what the server sent
                raise EndpointError(self.redact(str(exc))) from None
            if watchdog.fired and not finish:  # the cut can also look like the server closing the stream
                raise EndpointError(f"{overdue} (no complete event)")
            if not finish:
                how = "sent [DONE]" if done else "closed the stream"
                raise EndpointError(f"server {how} before a finish_reason: the response is incomplete")
        usage.finish_reason = finish
        usage.token_logprobs = logprobs
        self._fill_usage(usage, request, server_usage, "".join(parts), chunks)

    def _fill_usage(
        self, usage: StreamUsage, request: GenerationRequest, server: dict[str, Any] | None, text: str, chunks: int
    ) -> None:
        if server and isinstance(server.get("completion_tokens"), int):
            usage.output_tokens = int(server["completion_tokens"])
            prompt = server.get("prompt_tokens")
            usage.prompt_tokens = int(prompt) if isinstance(prompt, int) else None
            usage.source = "usage"
        elif self._tokenizer is not None:
            usage.output_tokens = self._tokenizer.count(text)
            usage.prompt_tokens = self._tokenizer.count(request.prompt)
            usage.source = "retokenized"
        else:
            usage.output_tokens = chunks
            usage.prompt_tokens = None
            usage.source = "chunks"
        cost = request_cost_usd(self.spec.prices, usage.prompt_tokens, usage.output_tokens)
        if cost is not None:
            usage.extra["cost_usd"] = cost

    # -- scoring ------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        raise BackendUnavailable("the openai backend does not score log-likelihoods (capabilities.loglikelihood)")

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        raise BackendUnavailable("the openai backend does not score log-likelihoods (capabilities.loglikelihood)")

    def describe(self) -> dict[str, Any]:
        """Endpoint facts for meta.json: never the key, only the name of its variable."""
        info: dict[str, Any] = {
            "backend": "openai",
            "model": self.spec.name,
            "api_model": self.params.model,
            "api": self.params.api,
            "base_url": self.public_url(),
            "api_key_env": self.params.api_key_env,
            "token_counts": "server usage; fallback "
            + ("re-tokenized with " + self.params.tokenizer if self.params.tokenizer else "chunk count"),
            "httpx": httpx.__version__,
        }
        if self._server_models is not None:
            info["server_models"] = self._server_models[:20]
        if self.spec.prices is not None:
            info["prices"] = self.spec.prices.model_dump()
        return info


class _Deadline:
    """Cut a response's connection at the request deadline, even while the server sends nothing.

    httpx's read timeout bounds each silence, not the whole request, and a server that trickles a
    byte at a time never completes a line for the loop to check the clock: a timer shuts the socket
    down at the deadline, which wakes the blocked read with an error.
    """

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self.fired = False
        self._response = response
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._cut)
        self._timer.daemon = True

    def _cut(self) -> None:
        self.fired = True
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:  # no socket to shut (another transport): closing the response is the next best thing
            with contextlib.suppress(Exception):
                self._response.close()

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _parse_sse_line(line: str) -> dict[str, Any] | str | None:
    """One SSE line: a JSON event, '[DONE]', or None for comments/blank/other fields."""
    line = line.strip()
    if not line.startswith("data:"):
        return None  # blank separators, ': ping' comments, 'event:'/'id:' fields
    data = line[5:].strip()
    if data == "[DONE]":
        return "[DONE]"
    if not data:
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        raise EndpointError(f"malformed server-sent event (not JSON): {_short(data)}") from None
    if not isinstance(event, dict):
        raise EndpointError(f"malformed server-sent event (not an object): {_short(data)}")
    return event


def _choice_delta(event: dict[str, Any], chat: bool) -> tuple[str, str, list[float]]:
    """(new text, finish_reason, token log-probabilities) of the first choice of a stream event.

    Completions carry ``logprobs.token_logprobs`` (a list of floats); chat carries
    ``logprobs.content`` (a list of {token, logprob}).
    """
    choices = event.get("choices")
    if choices is None:
        if "usage" in event:
            return "", "", []
        raise EndpointError(f"malformed stream event (no 'choices'): {_short(event)}")
    if not isinstance(choices, list):
        raise EndpointError(f"malformed stream event ('choices' is not a list): {_short(event)}")
    if not choices:
        return "", "", []
    choice = choices[0]
    if not isinstance(choice, dict):
        raise EndpointError(f"malformed stream event: {_short(event)}")
    if chat:
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
    else:
        text = choice.get("text")
    block = choice.get("logprobs")
    values: list[float] = []
    if isinstance(block, dict):
        if chat:
            raw = [e.get("logprob") for e in block.get("content") or [] if isinstance(e, dict)]
        else:
            raw = block.get("token_logprobs") or []
        values = [float(v) for v in raw if isinstance(v, int | float)]
    return (text if isinstance(text, str) else ""), str(choice.get("finish_reason") or ""), values


def _error_detail(response: httpx.Response, redact: Callable[[str], str]) -> str:
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
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    return _short(redact(text))


def _describe_http_error(exc: httpx.HTTPError) -> str:
    kinds = {
        httpx.ConnectError: "connection refused or host unreachable",
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "server did not answer in time",
        httpx.RemoteProtocolError: "server closed the connection",
    }
    return next((text for kind, text in kinds.items() if isinstance(exc, kind)), f"{type(exc).__name__}: {exc}")


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _base_url(params: OpenAIParams) -> str | None:
    """The endpoint root: the environment variable named by base_url_env, else base_url."""
    env = params.base_url_env
    url = (os.environ.get(env) or "").strip() if env else ""
    url = url or (params.base_url or "")
    return url.rstrip("/") or None


def _api_key(params: OpenAIParams) -> str | None:
    env = params.api_key_env
    return (os.environ.get(env) or None) if env else None


def _check(spec: ModelSpec, params: OpenAIParams) -> str | None:
    """Why this model cannot run here (no URL, no key, a secret header unset), or None. No network."""
    url = _base_url(params)
    if url is None:
        hint = f"set {params.base_url_env} or " if params.base_url_env else "set "
        return f"no endpoint: {hint}params.base_url"
    if urlparse(url).scheme not in {"http", "https"}:
        return f"base URL must start with http:// or https:// (got {strip_credentials(url)!r})"
    if params.api_key_env and not _api_key(params) and not _is_local(url):
        return f"{params.api_key_env} is not set (the API key for {strip_credentials(url)})"
    for header, env in params.header_env.items():
        if not os.environ.get(env):
            return f"{env} is not set (the value of header {header})"
    return None


plugin = BackendPlugin(
    name="openai",
    params_model=OpenAIParams,
    check=_check,
    create=OpenAICompatBackend,
    capabilities=OpenAICompatBackend.capabilities,
)
