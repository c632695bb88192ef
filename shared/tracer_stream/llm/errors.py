"""Errors of the LLM layer, both :class:`~tracer_stream.errors.LLMError`::

    LLMError
    ├── BackendError   one call failed; ``retryable`` says whether trying again may help
    └── TeacherError   labelling a text failed for good (after retries / the correction)

``reason`` is a short machine-readable code: ``http_<status>``, ``timeout``,
``connection_error``, ``bad_response``, ``replay_unknown_text``, ``replay_injected_error``,
``unparseable_answer``. Messages never contain request headers or the API key.
"""

from __future__ import annotations

from typing import Any

from tracer_stream.errors import LLMError
from tracer_stream.llm.types import Usage


class BackendError(LLMError):
    """One backend call failed."""

    def __init__(self, message: str, *, reason: str, retryable: bool,
                 status: int | None = None, retry_after_s: float | None = None,
                 **context: Any) -> None:
        super().__init__(message, reason=reason, status=status, **context)
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s


class TeacherError(LLMError):
    """The teacher could not label a text. ``raw_answer`` is the last answer received (for
    ``unparseable_answer``), ``usage`` what the attempts consumed."""

    def __init__(self, message: str, *, reason: str, usage: Usage, latency_ms: float,
                 raw_answer: str | None = None, **context: Any) -> None:
        super().__init__(message, reason=reason, **context)
        self.usage = usage
        self.latency_ms = latency_ms
        self.raw_answer = raw_answer


__all__ = ["BackendError", "LLMError", "TeacherError"]
