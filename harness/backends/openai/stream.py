"""The OpenAI streaming protocol: the request body, and the events that come back as text, finish reason, usage.
SSE framing is httpx-sse's; what an event *means* (in chat, completions or the Responses API) is the API's, here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    responses: bool = False  # the Responses API's typed events, not chat/completions chunks
    finish: str = ""
    done: bool = False  # the server sent [DONE]
    usage: dict[str, Any] | None = None  # the server's usage event, if it sent one
    logprobs: list[float] | None = None  # stays None when the endpoint sends none
    parts: list[str] = field(default_factory=list)


def request_body(params: OpenAIParams, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of a streaming request that asks for usage in the stream."""
    if params.api == "responses":
        body: dict[str, Any] = {"model": params.model, "stream": True, "input": request.prompt}
        body["max_output_tokens"] = request.max_tokens + params.reasoning_budget_tokens
        if params.reasoning_effort:
            body["reasoning"] = {"effort": params.reasoning_effort}
        if params.verbosity:
            body["text"] = {"verbosity": params.verbosity}
        if params.send_temperature:
            body["temperature"] = request.temperature
        body.update(params.extra_body)
        return "/responses", body
    body = {"model": params.model, "stream": True, "stream_options": {"include_usage": True}}
    if params.api == "chat" or (params.api == "auto" and request.chat):
        path = "/chat/completions"
        body["messages"] = [{"role": "user", "content": request.prompt}]
    else:
        path = "/completions"
        body["prompt"] = request.prompt
    body[params.max_tokens_field] = request.max_tokens + params.reasoning_budget_tokens
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
) -> Iterator[tuple[str, str]]:
    """(answer text, reasoning text) of each event as soon as it is whole, until [DONE] or the end of the stream.
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
            if event.get("error") or event.get("type") in ("error", "response.failed"):
                why = event.get("error") or _as_dict(event.get("response")).get("error") or event.get("message")
                raise EndpointError(f"server error mid-stream: {short(redact(str(why)))}")
            if state.responses:
                text, thought = _responses_event(event, state)
            else:
                if isinstance(event.get("usage"), dict):
                    state.usage = event["usage"]
                text, thought, reason, values = _choice_delta(event, state.chat)
                state.finish = reason or state.finish
                if state.want_logprobs and values:
                    state.logprobs = [*(state.logprobs or []), *values]
            if text:
                state.parts.append(text)
            yield text, thought
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


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


def _responses_event(event: dict[str, Any], state: StreamState) -> tuple[str, str]:
    """(answer text, reasoning text) of a Responses API event; its end sets the finish reason and usage.

    ``response.incomplete`` for ``max_output_tokens`` is the ``length`` finish of chat completions."""
    kind, delta = event.get("type"), event.get("delta")
    if kind == "response.output_text.delta" and isinstance(delta, str):
        return delta, ""
    if kind in _REASONING_DELTAS and isinstance(delta, str):
        return "", delta
    if kind in ("response.completed", "response.incomplete"):
        body = _as_dict(event.get("response"))
        if isinstance(body.get("usage"), dict):
            state.usage = body["usage"]
        why = (body.get("incomplete_details") or {}).get("reason") if kind == "response.incomplete" else "stop"
        state.finish = "length" if why == "max_output_tokens" else str(why or "incomplete")
    return "", ""


class UsageCounts(NamedTuple):
    """A server's token counts; reasoning is a part of output and cached a part of prompt (None: not sent)."""

    prompt: int | None
    output: int | None
    reasoning: int | None
    cached: int | None


def usage_counts(usage: dict[str, Any]) -> UsageCounts:
    """The counts of a chat/completions ``usage`` (prompt_/completion_tokens and their ``_details``) or a
    Responses API one (input_/output_tokens and theirs)."""

    def count(value: Any) -> int | None:
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    def detail(blocks: tuple[str, str], name: str) -> int | None:
        found = [usage[b].get(name) for b in blocks if isinstance(usage.get(b), dict)]
        return next((n for n in map(count, found) if n is not None), None)

    return UsageCounts(
        count(usage.get("prompt_tokens", usage.get("input_tokens"))),
        count(usage.get("completion_tokens", usage.get("output_tokens"))),
        detail(("completion_tokens_details", "output_tokens_details"), "reasoning_tokens"),
        detail(("prompt_tokens_details", "input_tokens_details"), "cached_tokens"),
    )


def _choice_delta(event: dict[str, Any], chat: bool) -> tuple[str, str, str, list[float]]:
    """(new text, new reasoning text, finish_reason, token log-probabilities) of the first choice of a stream event.

    Completions carry ``logprobs.token_logprobs`` (a list of floats); chat carries
    ``logprobs.content`` (a list of {token, logprob}). Chat's reasoning is ``delta.reasoning_content``
    (SGLang, llama.cpp's server) or ``delta.reasoning`` (vLLM).
    """
    choices = event.get("choices")
    if not choices and (choices == [] or "usage" in event):  # the usage event, or a choice-less keep-alive
        return "", "", "", []
    if not isinstance(choices, list) or not isinstance(choice := choices[0], dict):
        raise EndpointError(f"malformed stream event (no list of 'choices'): {short(event)}")
    delta, block = _as_dict(choice.get("delta")), _as_dict(choice.get("logprobs"))
    text = delta.get("content") if chat else choice.get("text")
    thought = (delta.get("reasoning_content") or delta.get("reasoning") or "") if chat else ""
    if chat:
        raw = [e.get("logprob") for e in block.get("content") or [] if isinstance(e, dict)]
    else:
        raw = block.get("token_logprobs") or []
    values = [float(v) for v in raw if isinstance(v, int | float)]
    answer, reasoning = (text if isinstance(text, str) else ""), (thought if isinstance(thought, str) else "")
    return answer, reasoning, str(choice.get("finish_reason") or ""), values
