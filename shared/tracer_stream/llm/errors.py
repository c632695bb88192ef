"""Errors of the LLM layer, both :class:`~tracer_stream.errors.LLMError`::

    LLMError
    ├── BackendError   one logical call failed (the SDK's own retries included)
    └── TeacherError   labelling a text failed for good

``reason`` is a short machine-readable code, one of :data:`REASONS`. Messages never contain
request headers or the API key.
"""

from __future__ import annotations

from typing import Any

from tracer_stream.errors import LLMError
from tracer_stream.llm.types import Usage

RATE_LIMITED = "rate_limited"
"""HTTP 429 after every retry."""
SERVER_ERROR = "server_error"
"""HTTP 5xx (Anthropic's 529 "overloaded" included) after every retry."""
TIMEOUT = "timeout"
"""No answer within ``timeout_s``, on every attempt."""
CONNECTION_ERROR = "connection_error"
"""The server could not be reached, on every attempt."""
AUTH_FAILED = "auth_failed"
"""HTTP 401 or 403: the key is missing, wrong or lacks rights (not retried)."""
REQUEST_REJECTED = "request_rejected"
"""Any other HTTP 4xx (bad model name, invalid parameter, ...; not retried)."""
BAD_RESPONSE = "bad_response"
"""A success status whose body is not the protocol's response."""
UNPARSEABLE_ANSWER = "unparseable_answer"
"""The model answered outside the label space twice (first answer and the correction)."""
REPLAY_UNKNOWN_TEXT = "replay_unknown_text"
"""The replay teacher has no recorded answer for the text."""
REPLAY_INJECTED_ERROR = "replay_injected_error"
"""The replay teacher's simulated API error, on every attempt."""

REASONS = frozenset({RATE_LIMITED, SERVER_ERROR, TIMEOUT, CONNECTION_ERROR, AUTH_FAILED,
                     REQUEST_REJECTED, BAD_RESPONSE, UNPARSEABLE_ANSWER, REPLAY_UNKNOWN_TEXT,
                     REPLAY_INJECTED_ERROR})


def status_reason(status: int) -> str:
    """The reason for a final HTTP error status.

    >>> [status_reason(s) for s in (429, 503, 529, 401, 404)]
    ['rate_limited', 'server_error', 'server_error', 'auth_failed', 'request_rejected']
    """
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    if status in (401, 403):
        return AUTH_FAILED
    return REQUEST_REJECTED


class BackendError(LLMError):
    """One logical backend call failed; ``retries`` attempts were retried before."""

    def __init__(self, message: str, *, reason: str, retries: int = 0,
                 status: int | None = None, **context: Any) -> None:
        super().__init__(message, reason=reason, status=status, **context)
        self.retries = retries
        self.status = status


class TeacherError(LLMError):
    """The teacher could not label a text. ``raw_answer`` is the last answer received (for
    ``unparseable_answer``; the ``label`` field of a structured answer), ``usage`` what the
    attempts consumed."""

    def __init__(self, message: str, *, reason: str, usage: Usage, latency_ms: float,
                 raw_answer: str | None = None, **context: Any) -> None:
        super().__init__(message, reason=reason, **context)
        self.usage = usage
        self.latency_ms = latency_ms
        self.raw_answer = raw_answer


__all__ = ["REASONS", "BackendError", "LLMError", "TeacherError", "status_reason"]
