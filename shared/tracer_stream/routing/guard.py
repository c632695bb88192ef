"""A circuit breaker for Redis: after a failure, calls are skipped for a short pause.

The hot path must not pay a socket timeout per batch while Redis is down; it asks the guard,
which answers from memory until the pause is over and then lets one call probe Redis again.
The pause doubles with each failure in a row (1 s, 2 s, 4 s, then ``max_pause_s``, 4 s by
default), so a long outage costs the hot path at most one socket timeout every few seconds,
and the first success ends it.
Every call's outcome is reported to ``observe(operation, ok)`` (the router's
``tracer_stream_router_redis_errors_total{operation}`` and ``redis_up``); a call skipped
during the pause is not a call and is not counted.

>>> seen = []
>>> guard = RedisGuard(pause_s=60, observe=lambda op, ok: seen.append((op, ok)))
>>> def boom() -> int:
...     raise redis.ConnectionError("down")
>>> guard.call(boom, -1, "dedupe_read"), guard.available, guard.call(lambda: 1, -1, "x"), seen
(-1, False, -1, [('dedupe_read', False)])
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from tracer_stream.obs.redis_metrics import RedisObserver, ignore

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisGuard:
    """Tracks whether Redis answers; thread-safe."""

    def __init__(self, pause_s: float = 1.0, observe: RedisObserver = ignore, *,
                 max_pause_s: float = 4.0) -> None:
        self.pause_s = pause_s
        self.max_pause_s = max(max_pause_s, pause_s)
        self.observe = observe
        self._failures = 0
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

    def pause(self, failures: int) -> float:
        """Seconds calls are skipped after ``failures`` failures in a row.

        >>> [RedisGuard().pause(n) for n in (1, 2, 3, 4, 10)]
        [1.0, 2.0, 4.0, 4.0, 4.0]
        """
        return min(self.max_pause_s, self.pause_s * 2.0 ** min(failures - 1, 30))

    def call(self, fn: Callable[[], T], default: T, operation: str) -> T:
        """``fn()``, or ``default`` when Redis is paused or the call fails."""
        if not self.available:
            return default
        try:
            result = fn()
        except redis.RedisError as exc:
            self.failed(exc, operation)
            return default
        self.succeeded(operation)
        return result

    def failed(self, exc: BaseException, operation: str) -> None:
        self.observe(operation, False)
        with self._lock:
            if self._down_since is None:
                log.warning("Redis unavailable, serving from memory: %s", exc)
                self._down_since = time.monotonic()
            self._failures += 1
            self._down_until = time.monotonic() + self.pause(self._failures)

    def succeeded(self, operation: str) -> None:
        self.observe(operation, True)
        with self._lock:
            if self._down_since is not None:
                log.info("Redis reachable again after %.1f s",
                         time.monotonic() - self._down_since)
            self._down_since = None
            self._down_until = 0.0
            self._failures = 0
            self._last_ok = time.monotonic()
