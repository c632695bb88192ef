"""A token bucket that spaces calls to the LLM API at a fixed average rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """At most ``rate_per_s`` acquisitions per second on average, bursts of ``burst``.

    Each :meth:`acquire` reserves a token immediately (the balance may go negative) and then
    sleeps off its debt, so concurrent callers on one event loop are served in arrival order
    without a lock and without busy waiting.

    >>> import asyncio
    >>> waits = []
    >>> async def record(seconds):
    ...     waits.append(seconds)
    >>> bucket = TokenBucket(2.0, clock=lambda: 0.0, sleep=record)
    >>> async def five():
    ...     for _ in range(5):
    ...         await bucket.acquire()
    >>> asyncio.run(five())
    >>> waits
    [0.5, 1.0, 1.5, 2.0]
    """

    def __init__(self, rate_per_s: float, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._last = clock()

    async def acquire(self) -> float:
        """Take one token, waiting if needed; returns the seconds waited."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_s)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self.rate_per_s
        await self._sleep(wait)
        return wait


__all__ = ["TokenBucket"]
