"""A fake reasoning model behind OpenAI's chat completions and Responses APIs, on 127.0.0.1.

It behaves as the tiers tierbench compares do (GPT-5, open reasoning models on vLLM, SGLang or
llama.cpp's server): it "thinks" before it answers, and the thinking is billed as output.

- Reasoning effort (``reasoning_effort`` in a chat body, ``reasoning.effort`` in a Responses body;
  medium when absent): minimal / low / medium / high spend more reasoning tokens (``EFFORT_TOKENS``,
  several times the answer's), wait longer before the first answer token (``think_s_per_token`` per
  reasoning token), and answer the last ``Q: a + b`` of an arithmetic prompt right more often (right
  when a hash of the prompt falls under the effort's ``EFFORT_RIGHT`` share, less ``TIER_GAP`` for a
  model named as a smaller tier; deterministic per prompt).
- The requested model name picks how the thinking is sent: a name ending in ``-vllm`` streams it as
  ``delta.reasoning`` (vLLM), ``-sglang`` or ``-llamacpp`` as ``delta.reasoning_content``; any other
  thinks in silence (OpenAI), sending only its role chunk first. On ``/v1/responses`` a streaming name
  sends ``response.reasoning_summary_text.delta`` events.
- Usage follows OpenAI's shapes: ``completion_tokens`` (reasoning included) with
  ``completion_tokens_details.reasoning_tokens`` and ``prompt_tokens_details.cached_tokens`` (chat);
  ``input_tokens``/``output_tokens`` with their ``_details`` (responses). A prompt's cached tokens are
  its longest word prefix shared with an earlier prompt to the same model at the same effort (at least
  ``MIN_CACHED`` words); a token is a word.
- A token limit (``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``) below the reasoning
  it wants ends the request with ``finish_reason: length`` (``response.incomplete`` with reason
  ``max_output_tokens``) and no visible text.
- ``mid_pause_s`` holds the answer back after its first token (a server stalled mid-answer).

Run it for a documented example: ``python tests/servers/reasoning_server.py --port 8765``.
"""

from __future__ import annotations

import argparse
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

if __package__ in (None, ""):  # run as a script: tests/ is the import root, as under pytest
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.threaded import JsonHandler, serve

EFFORT_TOKENS = {"none": 0, "minimal": 4, "low": 16, "medium": 48, "high": 128}
EFFORT_RIGHT = {"none": 0.3, "minimal": 0.4, "low": 0.6, "medium": 0.8, "high": 0.95}
# a smaller tier is right less often at the same effort (by the tier word in the model's name, e.g. gpt-5-nano)
TIER_GAP = {"nano": 0.3, "mini": 0.15}
MIN_CACHED = 8


@dataclass
class ReasoningState:
    """Knobs and what the server saw; tests read it."""

    think_s_per_token: float = 0.001
    delay_s: float = 0.0  # between visible tokens
    mid_pause_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    # by (model, effort): each has its own cache, so variants of one model compare fairly whatever ran first
    prompts: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Plan:
    """What one request will do: its counts and its answer."""

    prompt_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    answer: list[str]  # visible tokens, cut at the limit
    finish: str


def prompt_text(body: dict[str, Any]) -> str:
    """The prompt of a chat, completions or Responses body (``input`` a string or a list of messages)."""
    if isinstance(body.get("input"), str):
        return str(body["input"])
    messages = body.get("messages") or body.get("input") or []
    parts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content", "") if isinstance(message, dict) else ""
        if isinstance(content, list):
            content = "".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        parts.append(str(content))
    return str(body.get("prompt") or "".join(parts))


def effort_of(body: dict[str, Any]) -> str:
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else body.get("reasoning_effort")
    return str(effort) if effort in EFFORT_TOKENS else "medium"


def answer_words(prompt: str, effort: str, model: str = "") -> list[str]:
    """The answer to the last ``Q: a op b``: right when the prompt's hash falls under the effort's share
    (less the model's tier gap)."""
    digest = hashlib.sha256(prompt.encode()).digest()
    found = re.findall(r"Q: (-?\d+) ([-+*x]) (-?\d+)", prompt)
    if not found:
        return [f" w{digest[1] % 7}", f" w{digest[2] % 5}", f" w{digest[3] % 3}"]
    a, op, b = found[-1]
    value = int(a) + int(b) if op == "+" else int(a) - int(b) if op == "-" else int(a) * int(b)
    gap = next((g for tier, g in TIER_GAP.items() if tier in model), 0.0)
    right = digest[0] / 256 < EFFORT_RIGHT[effort] - gap
    return [f" {value if right else value + 1}", "\n"]


def plan(state: ReasoningState, body: dict[str, Any]) -> Plan:
    prompt = prompt_text(body)
    words = prompt.split()
    effort = effort_of(body)
    with state.lock:
        earlier = state.prompts.setdefault((str(body.get("model")), effort), [])
        shared = max((_common(words, seen) for seen in earlier), default=0)
        earlier.append(words)
    wanted = EFFORT_TOKENS[effort] + hashlib.sha256(prompt.encode()).digest()[4] % 4 * (effort != "none")
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    limit = int(limit) if isinstance(limit, int) else 1 << 30
    answer = answer_words(prompt, effort, str(body.get("model", "")))
    reasoning = min(wanted, limit)
    visible = answer[: max(limit - reasoning, 0)]
    finish = "stop" if len(visible) == len(answer) else "length"
    return Plan(len(words), shared if shared >= MIN_CACHED else 0, reasoning, visible, finish)


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _handler(state: ReasoningState) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response

        def _write(self, data: dict[str, Any] | str, event: str | None = None) -> None:
            line = data if isinstance(data, str) else json.dumps(data)
            self.wfile.write((f"event: {event}\n" if event else "").encode() + f"data: {line}\n\n".encode())
            self.wfile.flush()

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self.send_json(200, {"object": "list", "data": [{"id": "reasoning-server", "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests.append({"path": self.path, "body": body})
            path = self.path.rstrip("/")
            if not body.get("stream"):
                self.send_json(400, {"error": {"message": "this server only streams (send stream: true)"}})
                return
            if not path.endswith(("/chat/completions", "/responses")):
                self.send_json(404, {"error": {"message": f"no such endpoint: {self.path}"}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            model = str(body.get("model", ""))
            style = "reasoning" if model.endswith("-vllm") else None
            style = "reasoning_content" if model.endswith(("-sglang", "-llamacpp")) else style
            work = plan(state, body)
            try:
                if path.endswith("/responses"):
                    self._responses(work, style)
                else:
                    self._chat(model, work, style)
            except (BrokenPipeError, ConnectionResetError):  # the client cut the request (a stall, a deadline)
                return

        def _think(self, work: Plan, style: str | None, send: Any) -> None:
            """The reasoning: streamed a token at a time, or a silent pause as long."""
            if style is None:
                time.sleep(work.reasoning_tokens * state.think_s_per_token)
                return
            for i in range(work.reasoning_tokens):
                time.sleep(state.think_s_per_token)
                send(f" step{i}")

        def _answer(self, work: Plan, send: Any) -> None:
            for i, word in enumerate(work.answer):
                if i == 1 and state.mid_pause_s:
                    state.stop.wait(state.mid_pause_s)
                elif i:
                    time.sleep(state.delay_s)
                send(word)

        def _chat(self, model: str, work: Plan, style: str | None) -> None:
            def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "model": model, "choices": [choice]}

            self._write(chunk({"role": "assistant", "content": ""}))
            self._think(work, style, lambda text: self._write(chunk({str(style): text})))
            self._answer(work, lambda text: self._write(chunk({"content": text})))
            self._write(chunk({}, work.finish))
            output = work.reasoning_tokens + len(work.answer)
            usage = {
                "prompt_tokens": work.prompt_tokens,
                "completion_tokens": output,
                "total_tokens": work.prompt_tokens + output,
                "prompt_tokens_details": {"cached_tokens": work.cached_tokens},
                "completion_tokens_details": {"reasoning_tokens": work.reasoning_tokens},
            }
            self._write({"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [], "usage": usage})
            self._write("[DONE]")

        def _responses(self, work: Plan, style: str | None) -> None:
            sequence = iter(range(1 << 30))

            def event(kind: str, **fields: Any) -> None:
                self._write({"type": kind, "sequence_number": next(sequence), **fields}, event=kind)

            response: dict[str, Any] = {"id": "resp_x", "object": "response", "status": "in_progress"}
            event("response.created", response=response)
            self._think(
                work,
                style,
                lambda text: event(
                    "response.reasoning_summary_text.delta", item_id="rs_x", output_index=0, summary_index=0, delta=text
                ),
            )
            self._answer(
                work,
                lambda text: event(
                    "response.output_text.delta", item_id="msg_x", output_index=1, content_index=0, delta=text
                ),
            )
            output = work.reasoning_tokens + len(work.answer)
            response["usage"] = {
                "input_tokens": work.prompt_tokens,
                "input_tokens_details": {"cached_tokens": work.cached_tokens},
                "output_tokens": output,
                "output_tokens_details": {"reasoning_tokens": work.reasoning_tokens},
                "total_tokens": work.prompt_tokens + output,
            }
            if work.finish == "length":
                response.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
                event("response.incomplete", response=response)
            else:
                response["status"] = "completed"
                event("response.completed", response=response)

    return Handler


@contextmanager
def reasoning_server(
    think_s_per_token: float = 0.001, delay_s: float = 0.0, port: int = 0
) -> Iterator[tuple[str, ReasoningState]]:
    """(base URL ending in /v1, state) of a running reasoning server; stopped on exit."""
    state = ReasoningState(think_s_per_token=think_s_per_token, delay_s=delay_s)
    with serve(_handler(state), state.stop.set, port=port) as base_url:
        yield base_url, state


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible reasoning model for tierbench examples.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--think-s-per-token", type=float, default=0.005, help="silent thinking per reasoning token")
    parser.add_argument("--delay-s", type=float, default=0.01, help="between visible tokens")
    args = parser.parse_args()
    with reasoning_server(args.think_s_per_token, args.delay_s, args.port) as (url, _state):
        print(f"reasoning server at {url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
