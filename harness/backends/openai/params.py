"""The catalog's settings of an OpenAI-compatible model, and the cheap check of whether it can run here.

Secrets never appear in the catalog: the API key and secret headers are named by environment variable.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.config.models import ModelSpec
from harness.secrets import strip_credentials

_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


class OpenAIParams(BaseModel):
    """Settings of an OpenAI-compatible model in the catalog."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = Field(min_length=1, description="Model name the server expects (e.g. gpt-5-mini).")
    api: Literal["chat", "completions", "auto", "responses"] = Field(
        default="chat",
        description="chat: always /chat/completions (the server applies its template; OpenAI's GPT-5 has only "
        "this); completions: always /completions with the raw prompt; auto: chat requests to /chat/completions, "
        "plain prompts to /completions, exactly as an in-process backend treats them (llama.cpp server, vLLM); "
        "responses: OpenAI's /responses (the prompt as input, reasoning effort as reasoning.effort).",
    )
    reasoning: bool = Field(
        default=False,
        description="A reasoning model: it may think in silence before its first answer token, so that wait is "
        "bounded by think_timeout_s (default: the whole timeout_s), not stall_timeout_s.",
    )
    reasoning_budget_tokens: int = Field(
        default=0,
        ge=0,
        description="Tokens added to every request's limit for the model's hidden reasoning: a task's limit is sized "
        "for its answer (arithmetic allows 8), which a reasoning model spends on thinking before it answers.",
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
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        default=None,
        description="Sent as the request's reasoning_effort (GPT-5, o-series; reasoning.effort on api: responses); "
        "unset: the server's default. Set, it makes the model a reasoning one (see reasoning).",
    )
    verbosity: Literal["low", "medium", "high"] | None = Field(
        default=None,
        description="Sent as the request's verbosity (GPT-5; text.verbosity on api: responses); unset: the server's default.",
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
    think_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Longest wait for the first token (a reasoning model thinks before it answers); None: "
        "timeout_s for a reasoning model, stall_timeout_s for any other.",
    )
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

    def first_token_wait(self) -> float:
        """How long the stream may stay silent before its first token."""
        if self.think_timeout_s is not None:
            return self.think_timeout_s
        return self.timeout_s if self.reasoning or self.reasoning_effort else self.stall_timeout_s

    def endpoint(self) -> str | None:
        """The endpoint root: the environment variable named by base_url_env, else base_url."""
        url = (os.environ.get(self.base_url_env) or "").strip() if self.base_url_env else ""
        return (url or self.base_url or "").rstrip("/") or None

    def key(self) -> str | None:
        return (os.environ.get(self.api_key_env) or None) if self.api_key_env else None


def _is_local(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def check(spec: ModelSpec, params: OpenAIParams) -> str | None:
    """Why this model cannot run here (no URL, no key, a secret header unset), or None. No network."""
    url = params.endpoint()
    if url is None:
        hint = f"set {params.base_url_env} or " if params.base_url_env else "set "
        return f"no endpoint: {hint}params.base_url"
    if urlparse(url).scheme not in {"http", "https"}:
        return f"base URL must start with http:// or https:// (got {strip_credentials(url)!r})"
    if params.api_key_env and not params.key() and not _is_local(url):
        return f"{params.api_key_env} is not set (the API key for {strip_credentials(url)})"
    for header, env in params.header_env.items():
        if not os.environ.get(env):
            return f"{env} is not set (the value of header {header})"
    return None
