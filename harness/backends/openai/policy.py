"""The one retry policy of the OpenAI-compatible backend: what is retried, how long to wait, when to give up.

Retries are tenacity's (the ``openai`` SDK hides each 429 inside itself; ``evaluation.pacing`` must count
them). Ours: a ``Retry-After`` is honoured up to ``max_backoff_s``, and no wait passes the request deadline.
"""

from __future__ import annotations

import email.utils
import time
from typing import NoReturn

import httpx
import tenacity

from harness.backends.base import StreamUsage
from harness.backends.openai.transport import EndpointError, Transport, describe_http_error

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# the connection failed or the server did not answer in time: worth another try
_RETRYABLE_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadTimeout)


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not; ``retry_after`` is the server's wish."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_s(value: str | None) -> float | None:
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


def is_throttle(status: int, retry_after: float | None) -> bool:
    """The endpoint asks us to slow down: 429, or 503 with a Retry-After (a 503 without one is an outage)."""
    return status == 429 or (status == 503 and retry_after is not None)


def open_stream(
    transport: Transport, path: str, body: dict[str, object], deadline: float, usage: StreamUsage
) -> httpx.Response:
    """A 200 response to ``body``, retried under this policy; EndpointError once it gives up. Throttling
    answers are counted in ``usage.throttled``, so a caller sending concurrently can send fewer at once."""
    params = transport.params
    shown = f"{transport.shown}{path}"

    def attempt() -> httpx.Response:
        try:
            response = transport.send(path, body, deadline)
        except _RETRYABLE_ERRORS as exc:
            raise _Retryable(describe_http_error(exc)) from None
        if response.status_code == 200:
            return response
        detail = transport.error_detail(response)
        response.close()
        last = f"HTTP {response.status_code}{': ' + detail if detail else ''}"
        if response.status_code not in RETRYABLE_STATUS:
            raise EndpointError(transport.redact(f"{shown}: {last}"))
        retry_after = retry_after_s(response.headers.get("retry-after"))
        if is_throttle(response.status_code, retry_after):
            usage.throttled += 1
        raise _Retryable(last, retry_after)

    backoff = tenacity.wait_random_exponential(multiplier=params.backoff_s, max=params.max_backoff_s)

    def wait(state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Retryable) and failure.retry_after is not None:
            return min(failure.retry_after, params.max_backoff_s)
        return float(backoff(state))

    def give_up(state: tenacity.RetryCallState) -> NoReturn:
        last = state.outcome.exception() if state.outcome else None
        tries = state.attempt_number
        if tries > params.max_retries:
            why = f" (gave up after {tries} attempt{'s' if tries > 1 else ''})"
        else:
            why = "; no time left for a retry before the request deadline"
        raise EndpointError(transport.redact(f"{shown}: {last}{why}"))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(_Retryable),
        wait=wait,
        # the wait is known before stop is asked (tenacity computes it first)
        stop=lambda state: (
            state.attempt_number > params.max_retries or time.monotonic() + state.upcoming_sleep > deadline
        ),
        retry_error_callback=give_up,
        sleep=time.sleep,
    )
    return retrying(attempt)
