"""Duplicate detection by ``request_id``: ``P seen:{task}:{request_id}`` with a TTL.

A request is marked seen only after every output it produced was acknowledged by the broker,
so a crash between producing and marking re-answers it (a duplicate, which consumers dedupe)
and never turns a retry into a loss. A re-delivered request that is already marked is skipped.
With Redis down nothing is marked or found: delivery stays at-least-once.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from tracer_stream.routing.guard import RedisGuard

RequestKey = tuple[str, str]
"""``(task, request_id)``."""


class Deduper:
    """Remembers answered requests in Redis."""

    def __init__(self, client: redis.Redis, guard: RedisGuard, *, prefix: str = "tracer:",
                 ttl_s: int = 24 * 3600) -> None:
        self._client = client
        self._guard = guard
        self._prefix = prefix
        self.ttl_s = ttl_s

    def key(self, task: str, request_id: str) -> str:
        return f"{self._prefix}seen:{task}:{request_id}"

    def seen(self, requests: Sequence[RequestKey]) -> list[bool]:
        """Which of ``requests`` were already answered."""
        if not requests or self.ttl_s == 0:
            return [False] * len(requests)
        keys = [self.key(t, r) for t, r in requests]
        missing: list[bytes | str | None] = [None] * len(keys)
        raw = self._guard.call(lambda: self._client.mget(keys), default=missing)
        return [value is not None for value in raw]

    def mark(self, requests: Sequence[RequestKey]) -> None:
        """Record ``requests`` as answered (call after their outputs were acknowledged)."""
        if not requests or self.ttl_s == 0:
            return

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for task, request_id in requests:
                pipe.set(self.key(task, request_id), b"1", ex=self.ttl_s)
            pipe.execute()

        self._guard.call(write, default=None)
