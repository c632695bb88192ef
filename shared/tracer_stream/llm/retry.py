"""When to try a failed call again, and how long to wait.

Waits follow exponential backoff with *full jitter* (a uniform draw between 0 and
``min(max_s, base_s * 2**retry)``), which spreads the retries of many workers hitting the same
overloaded API. When the server says how long to wait (``Retry-After`` in seconds or as an HTTP
date, or OpenAI's ``retry-after-ms``) that wait is used instead, capped at ``max_s``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def is_retryable_status(status: int) -> bool:
    """429, timeouts/conflicts and every 5xx (including Anthropic's 529 "overloaded")."""
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` further attempts after the first, with the waits described above."""

    max_retries: int = 4
    base_s: float = 0.5
    max_s: float = 20.0

    def delay(self, retry: int, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_s)
        ceiling = min(self.max_s, self.base_s * 2.0 ** retry)
        return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's requested wait in seconds, or ``None`` when absent or unreadable.
    ``headers`` must be case-insensitive (``httpx.Headers``) or lower-case."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after"]
