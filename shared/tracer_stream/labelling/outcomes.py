"""The worker's memory of the requests it has answered: ``P outcome:{task}:{request_id}``.

Kafka redelivers a record whenever its offset was not committed: after a crash, and after a
partition moves to another worker while a *later* record of it was already answered but an
earlier one was still in flight (offsets are committed only below the lowest unfinished
record). A request is marked here right after its outputs are acknowledged by the broker and
before its offset can be committed, so such a redelivery is recognised and skipped instead of
answered twice (possibly differently: a label the first time, a dead letter the second).

Only a crash between the acknowledgement and the mark can still answer a request twice. With
Redis unreachable nothing is marked or found: delivery stays at-least-once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

log = logging.getLogger(__name__)

RequestKey = tuple[str, str]
"""``(task, request_id)``."""


class OutcomeLog:
    """Marks answered requests in Redis for ``ttl_s`` seconds (0 disables the log)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "tracer:",
                 ttl_s: int = 24 * 3600) -> None:
        self._client = client
        self._prefix = prefix
        self.ttl_s = ttl_s

    def key(self, task: str, request_id: str) -> str:
        """
        >>> OutcomeLog(None, prefix="p:").key("intents", "r-1")  # type: ignore[arg-type]
        'p:outcome:intents:r-1'
        """
        return f"{self._prefix}outcome:{task}:{request_id}"

    def answered(self, task: str, request_id: str) -> bool:
        """Whether the request was answered within the window (False when Redis is down)."""
        if self.ttl_s == 0:
            return False
        try:
            return bool(self._client.exists(self.key(task, request_id)))
        except redis.RedisError as exc:
            log.warning("outcome log unreadable (%s); %s/%s is treated as new",
                        type(exc).__name__, task, request_id)
            return False

    def mark(self, requests: Sequence[tuple[RequestKey, str]]) -> bool:
        """Record each ``((task, request_id), outcome kind)``; False when Redis failed."""
        if not requests or self.ttl_s == 0:
            return True
        try:
            pipe = self._client.pipeline(transaction=False)
            for (task, request_id), kind in requests:
                pipe.set(self.key(task, request_id), kind, ex=self.ttl_s)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("cannot mark %d answered request(s) (%s)", len(requests),
                        type(exc).__name__)
            return False
        return True


__all__ = ["OutcomeLog", "RequestKey"]
