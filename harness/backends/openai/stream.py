"""The OpenAI streaming protocol: the request body, and the events that come back as text, finish reason, usage.

SSE framing (lines, ``data:`` fields, comments, multi-line events) is httpx-sse's; what an event
*means* (chat ``delta.content`` or completions ``text``, ``finish_reason``, the trailing ``usage``
event, ``[DONE]``, log-probabilities in either layout) is the OpenAI API's and stays here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from harness.backends.base import GenerationRequest
from harness.backends.openai.params import OpenAIParams
from harness.backends.openai.transport import EndpointError, short


@dataclass
class StreamState:
    """What a stream said besides its text chunks, filled in while it is read."""

    chat: bool
    want_logprobs: bool
    finish: str = ""
    done: bool = False  # the server sent [DONE]
    usage: dict[str, Any] | None = None  # the server's usage event, if it sent one
    logprobs: list[float] | None = None  # stays None when the endpoint sends none
    parts: list[str] = field(default_factory=list)


def request_body(params: OpenAIParams, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of a streaming request that asks for usage in the stream."""
    body: dict[str, Any] = {"model": params.model, "stream": True, "stream_options": {"include_usage": True}}
    if params.api == "chat" or (params.api == "auto" and request.chat):
        path = "/chat/completions"
        body["messages"] = [{"role": "user", "content": request.prompt}]
    else:
        path = "/completions"
        body["prompt"] = request.prompt
    body[params.max_tokens_field] = request.max_tokens
    if params.send_temperature:
        body["temperature"] = request.temperature
    if params.send_seed:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if request.logprobs and params.logprobs:
        body.update({"logprobs": True, "top_logprobs": 1} if "messages" in body else {"logprobs": 1})
    body.update(params.model_dump(include={"reasoning_effort", "verbosity"}, exclude_none=True))
    body.update(params.extra_body)
    return path, body


def read_text(
    response: httpx.Response, state: StreamState, deadline: float, overdue: str, redact: Callable[[str], str]
) -> Iterator[str]:
    """Each piece of new text as soon as its event is whole; stops at [DONE] or the end of the stream.

    ``redact`` runs before a server's error text is shortened (a cut must not leave a key's prefix)."""
    try:
        for sse in EventSource(response).iter_sse():
            if time.monotonic() > deadline:
                raise EndpointError(overdue)
            if not sse.data:
                continue
            if sse.data.strip() == "[DONE]":
                state.done = True
                return
            event = _parse(sse.data)
            if event.get("error"):
                raise EndpointError(f"server error mid-stream: {short(redact(str(event['error'])))}")
            if isinstance(event.get("usage"), dict):
                state.usage = event["usage"]
            text, reason, values = _choice_delta(event, state.chat)
            state.finish = reason or state.finish
            if state.want_logprobs and values:
                state.logprobs = [*(state.logprobs or []), *values]
            if text:
                state.parts.append(text)
                yield text
    except SSEError as exc:
        raise EndpointError(f"not a server-sent event stream: {exc}") from None


def _parse(data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        raise EndpointError(f"malformed server-sent event (not JSON): {short(data)}") from None
    if not isinstance(event, dict):
        raise EndpointError(f"malformed server-sent event (not an object): {short(data)}")
    return event


def _choice_delta(event: dict[str, Any], chat: bool) -> tuple[str, str, list[float]]:
    """(new text, finish_reason, token log-probabilities) of the first choice of a stream event.

    Completions carry ``logprobs.token_logprobs`` (a list of floats); chat carries
    ``logprobs.content`` (a list of {token, logprob}).
    """
    choices = event.get("choices")
    if not choices and (choices == [] or "usage" in event):  # the usage event, or a choice-less keep-alive
        return "", "", []
    if not isinstance(choices, list) or not isinstance(choice := choices[0], dict):
        raise EndpointError(f"malformed stream event (no list of 'choices'): {short(event)}")
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
