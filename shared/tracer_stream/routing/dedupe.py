"""Duplicate detection by ``request_id``: ``P seen:{task}:{request_id}`` with a TTL.

A request is marked only after every output it produced was acknowledged by the broker, so a
crash between producing and marking re-answers it (a duplicate, which consumers dedupe) and
never turns a retry into a loss. With Redis down nothing is marked or found: delivery stays
at-least-once.

Two marks, because a dead letter is final only for the attempt that got it:

* answered or sent to the LLM: ``1`` — any later record with that id is a duplicate;
* dead-lettered by the router: the record's position ``dl:{partition}:{offset}`` — a
  redelivery of that same record is a duplicate (it already has its one outcome), but a new
  record with the same id (the client retrying after fixing the cause) is a new attempt.

When the LLM worker dead-letters a request, it drops the mark once the dead letter is
acknowledged (``labelling/outcomes.py``), so the client's retry with the same id is answered too.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from tracer_stream.registry.keys import seen_key
from tracer_stream.routing.guard import RedisGuard

RequestKey = tuple[str, str]
"""``(task, request_id)``."""
Position = tuple[int, int]
"""``(partition, offset)`` of a request record."""


class Deduper:
    """Remembers answered requests in Redis."""

    def __init__(self, client: redis.Redis, guard: RedisGuard, *, prefix: str = "tracer:",
                 ttl_s: int = 24 * 3600) -> None:
        self._client = client
        self._guard = guard
        self._prefix = prefix
        self.ttl_s = ttl_s

    def key(self, task: str, request_id: str) -> str:
        return seen_key(self._prefix, task, request_id)

    def seen(self, requests: Sequence[RequestKey],
             positions: Sequence[Position] | None = None) -> list[bool]:
        """Which of ``requests`` (read at ``positions``) already have their outcome."""
        if not requests or self.ttl_s == 0:
            return [False] * len(requests)
        keys = [self.key(t, r) for t, r in requests]
        missing: list[bytes | str | None] = [None] * len(keys)
        raw = self._guard.call(lambda: self._client.mget(keys), missing, "dedupe_read")
        where = positions if positions is not None else [None] * len(keys)
        return [_is_duplicate(value, at) for value, at in zip(raw, where, strict=True)]

    def mark(self, requests: Sequence[RequestKey],
             dead_lettered: Sequence[tuple[RequestKey, Position]] = ()) -> None:
        """Record ``requests`` as answered and ``dead_lettered`` as dead-lettered at their
        positions (call after their outputs were acknowledged)."""
        if (not requests and not dead_lettered) or self.ttl_s == 0:
            return

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for task, request_id in requests:
                pipe.set(self.key(task, request_id), b"1", ex=self.ttl_s)
            for (task, request_id), (partition, offset) in dead_lettered:
                pipe.set(self.key(task, request_id), f"dl:{partition}:{offset}".encode(),
                         ex=self.ttl_s)
            pipe.execute()

        self._guard.call(write, None, "dedupe_mark")


def _is_duplicate(mark: bytes | str | None, at: Position | None) -> bool:
    """Whether a record read at ``at`` is a duplicate given the id's ``mark``.

    >>> _is_duplicate(None, (0, 5)), _is_duplicate(b"1", (0, 5))
    (False, True)
    >>> _is_duplicate(b"dl:0:5", (0, 5)), _is_duplicate(b"dl:0:5", (0, 9))
    (True, False)
    """
    if mark is None:
        return False
    text = mark.decode() if isinstance(mark, bytes) else mark
    if not text.startswith("dl:"):
        return True
    return at is not None and text == f"dl:{at[0]}:{at[1]}"
