"""Any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server, a proxy) over HTTP; its parts live
in ``harness.backends.openai``. Token counts come from the server's ``usage``, else a local tokenizer
(``retokenized``), else the chunk count (``chunks``). The API key is named by an environment variable and
scrubbed from every error text: never logged, echoed or written.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.backends.costing import request_cost_usd
from harness.backends.openai.params import OpenAIParams, check
from harness.backends.openai.policy import open_stream
from harness.backends.openai.stream import StreamState, read_text, request_body, usage_counts
from harness.backends.openai.transport import EndpointError, Transport, Watchdog, describe_http_error
from harness.backends.plugin import BackendPlugin
from harness.backends.text import random_words
from harness.backends.tokenizer_fallback import FallbackTokenizer, load_fallback_tokenizer
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable
from harness.secrets import strip_credentials


class OpenAICompatBackend:
    """A model served behind an OpenAI-compatible HTTP API."""

    capabilities = Capabilities(loglikelihood=False, streaming=True, concurrent=True, chat=True)

    def __init__(self, spec: ModelSpec, params: OpenAIParams) -> None:
        self.spec = spec
        self.name = spec.name
        self.params = params
        self._transport: Transport | None = None
        cap = params.max_concurrency
        self._slots: contextlib.AbstractContextManager[Any] = (
            threading.BoundedSemaphore(cap) if cap else contextlib.nullcontext()
        )
        self._tokenizer: FallbackTokenizer | None = None
        self._server_models: list[str] | None = None

    @property
    def max_concurrency(self) -> int | None:
        """The catalog's cap on requests in flight at once (None: no cap stated)."""
        return self.params.max_concurrency

    # -- lifecycle ----------------------------------------------------------------------------
    def load(self) -> None:
        """Open the connection pool and prove the endpoint answers; raise BackendUnavailable if not."""
        if reason := check(self.spec, self.params):
            raise BackendUnavailable(reason)
        self._transport = Transport(self.params)
        self._server_models = self._transport.probe()
        if self.params.tokenizer:
            self._tokenizer = load_fallback_tokenizer(self.params.tokenizer)

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("backend not loaded")
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

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
    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        transport = self.transport
        path, body = request_body(self.params, request)
        state = StreamState(chat="messages" in body, want_logprobs=request.logprobs, responses=path == "/responses")
        limit = min(self.params.timeout_s, request.timeout_s or self.params.timeout_s)
        with self._slots, contextlib.ExitStack() as stack:
            deadline = time.monotonic() + limit
            overdue = f"request exceeded its {limit:g}s deadline mid-stream"
            response = open_stream(transport, path, body, deadline, usage)
            stack.callback(response.close)
            watchdog = stack.enter_context(
                Watchdog(response, deadline, self.params.first_token_wait(), self.params.stall_timeout_s)
            )
            try:
                for n, (text, thought) in enumerate(read_text(response, state, deadline, overdue, transport.redact)):
                    watchdog.heard(bool(text or thought))
                    if text:
                        yield Chunk(text, 1)
                    elif thought:  # timed, never part of the answer
                        yield Chunk("", 0, reasoning=True)
                    elif n == 0:  # the first event (a role, a keep-alive): first-byte time
                        yield Chunk("", 0)
            except httpx.HTTPError as exc:
                if watchdog.fired or time.monotonic() > deadline:
                    raise EndpointError(f"{overdue} (no complete event)") from None
                if not watchdog.stalled and not isinstance(exc, httpx.ReadTimeout):
                    raise EndpointError(transport.redact(f"stream broke: {describe_http_error(exc)}")) from None
                raise EndpointError(watchdog.silence()) from None
            except EndpointError as exc:  # a malformed event quotes what the server sent
                raise EndpointError(transport.redact(str(exc))) from None
            if watchdog.fired and not state.finish:  # the cut can also look like the server closing the stream
                raise EndpointError(f"{overdue} (no complete event)")
            if watchdog.stalled and not state.finish:
                raise EndpointError(watchdog.silence())
            if not state.finish:
                how = "sent [DONE]" if state.done else "closed the stream"
                raise EndpointError(f"server {how} before a finish_reason: the response is incomplete")
        usage.finish_reason = state.finish
        usage.token_logprobs = state.logprobs
        self._fill_usage(usage, request, state)

    def _fill_usage(self, usage: StreamUsage, request: GenerationRequest, state: StreamState) -> None:
        counts = usage_counts(state.usage or {})
        if counts.output is not None:
            usage.prompt_tokens, usage.output_tokens = counts.prompt, counts.output
            usage.reasoning_tokens, usage.cached_tokens = counts.reasoning, counts.cached
            usage.source = "usage"
        elif self._tokenizer is not None:
            usage.output_tokens = self._tokenizer.count("".join(state.parts))
            usage.prompt_tokens = self._tokenizer.count(request.prompt)
            usage.source = "retokenized"
        else:
            usage.output_tokens = len(state.parts)
            usage.prompt_tokens = None
            usage.source = "chunks"
        cost = request_cost_usd(
            self.spec.prices, usage.prompt_tokens, usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens
        )
        if cost is not None:
            usage.extra["cost_usd"] = cost

    # -- scoring ------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        raise BackendUnavailable("the openai backend does not score log-likelihoods (capabilities.loglikelihood)")

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        raise BackendUnavailable("the openai backend does not score log-likelihoods (capabilities.loglikelihood)")

    def describe(self) -> dict[str, Any]:
        """Endpoint facts for meta.json: never the key, only the name of its variable."""
        url = self.params.endpoint()
        info: dict[str, Any] = {
            "backend": "openai",
            "model": self.spec.name,
            "api_model": self.params.model,
            "api": self.params.api,
            "base_url": strip_credentials(url) if url else None,
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


plugin = BackendPlugin(
    name="openai",
    params_model=OpenAIParams,
    check=check,
    create=OpenAICompatBackend,
    capabilities=OpenAICompatBackend.capabilities,
)
