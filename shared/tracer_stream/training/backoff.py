"""Exponential backoff for the trainer's Redis calls: a failed call waits before the next try
(0.5 s, 1 s, 2 s, … up to ``max_s``) and the first success resets it, so a Redis outage costs
a few bounded calls and log lines instead of a crash loop.

>>> b = Backoff(first_s=0.5, max_s=2.0)
>>> [b.fail(now=0.0) for _ in range(4)]
[0.5, 1.0, 2.0, 2.0]
>>> b.due(now=1.0), b.due(now=2.0)
(False, True)
>>> b.ok(); b.due(now=0.0)
True
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Backoff:
    """When the next attempt may run after consecutive failures."""

    first_s: float = 0.5
    max_s: float = 30.0
    failures: int = 0
    next_at: float = 0.0

    def due(self, now: float) -> bool:
        """Whether an attempt may run at ``now`` (monotonic seconds)."""
        return now >= self.next_at

    def fail(self, now: float) -> float:
        """Record a failure at ``now``; returns the wait before the next attempt."""
        delay = min(self.max_s, self.first_s * 2.0 ** self.failures)
        self.failures += 1
        self.next_at = now + delay
        return delay

    def ok(self) -> None:
        self.failures, self.next_at = 0, 0.0


class RedisCalls:
    """Runs the trainer's Redis-dependent calls, one :class:`Backoff` per operation name.

    A ``redis.RedisError`` (the client's socket timeouts bound every call) is logged, reported
    to ``observe(operation, ok=False)`` (a metric) and starts the operation's backoff; while it
    backs off the operation is skipped. Success reports ``observe(operation, ok=True)``.

    >>> calls = RedisCalls()
    >>> def stalled() -> int:
    ...     raise redis.TimeoutError("Timeout reading from socket")
    >>> calls.call("heartbeat", stalled), calls.call("heartbeat", lambda: 1)   # backing off
    (None, None)
    >>> calls.run("other", print, "runs")
    runs
    True
    """

    def __init__(self, observe: Callable[[str, bool], None] | None = None,
                 closing: threading.Event | None = None) -> None:
        self.observe = observe or (lambda operation, ok: None)
        self.closing = closing or threading.Event()
        self.backoff: defaultdict[str, Backoff] = defaultdict(Backoff)

    def call(self, operation: str, fn: Callable[..., T], *args: object) -> T | None:
        """``fn(*args)``, or None when it failed on Redis or ``operation`` backs off."""
        backoff = self.backoff[operation]
        if not backoff.due(time.monotonic()):
            return None
        try:
            result = fn(*args)
        except redis.RedisError as exc:
            delay = backoff.fail(time.monotonic())
            self.observe(operation, False)
            log.warning("redis (%s): %s; next try in %.1f s", operation, exc, delay)
            return None
        backoff.ok()
        self.observe(operation, True)
        return result

    def run(self, operation: str, fn: Callable[..., object], *args: object) -> bool:
        """Like :meth:`call` for a call without a result: whether it ran."""
        return self.call(operation, _ran, fn, *args) is True

    def until_done(self, operation: str, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` (which must not return None), tried again after every Redis failure
        once the backoff allows, until it returns; :class:`InterruptedError` when ``closing``
        is set meanwhile."""
        while True:
            result = self.call(operation, fn, *args)
            if result is not None:
                return result
            if self.closing.wait(max(0.0, self.backoff[operation].next_at - time.monotonic())):
                raise InterruptedError(f"closing during {operation}")


def _ran(fn: Callable[..., object], *args: object) -> bool:
    fn(*args)
    return True
