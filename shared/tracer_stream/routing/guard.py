"""A circuit breaker for Redis: after a failure, calls are skipped for a short pause.

The hot path must not pay a socket timeout per batch while Redis is down; it asks the guard,
which answers from memory until the pause is over and then lets one call probe Redis again.

>>> guard = RedisGuard(pause_s=60)
>>> def boom() -> int:
...     raise redis.ConnectionError("down")
>>> guard.call(boom, default=-1), guard.available, guard.call(lambda: 1, default=-1)
(-1, False, -1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisGuard:
    """Tracks whether Redis answers; thread-safe."""

    def __init__(self, pause_s: float = 1.0) -> None:
        self.pause_s = pause_s
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._last_ok = time.monotonic()
        self._down_since: float | None = None

    @property
    def available(self) -> bool:
        """False during the pause after a failure."""
        return time.monotonic() >= self._down_until

    @property
    def healthy(self) -> bool:
        """True when the last call succeeded."""
        return self._down_since is None

    def seconds_since_ok(self) -> float:
        """Seconds since the last successful call (0 while Redis answers)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._last_ok

    def call(self, fn: Callable[[], T], default: T) -> T:
        """``fn()``, or ``default`` when Redis is paused or the call fails."""
        if not self.available:
            return default
        try:
            result = fn()
        except redis.RedisError as exc:
            self.failed(exc)
            return default
        self.succeeded()
        return result

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._down_since is None:
                log.warning("Redis unavailable, serving from memory: %s", exc)
                self._down_since = time.monotonic()
            self._down_until = time.monotonic() + self.pause_s

    def succeeded(self) -> None:
        with self._lock:
            if self._down_since is not None:
                log.info("Redis reachable again after %.1f s",
                         time.monotonic() - self._down_since)
            self._down_since = None
            self._down_until = 0.0
            self._last_ok = time.monotonic()
