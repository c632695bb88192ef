"""The worker's memory of the records it has answered:
``P outcome:{task}:{request_id}@{topic}/{partition}/{offset}``.

Kafka redelivers a record whenever its offset was not committed: after a crash, and after a
partition moves to another worker while a *later* record of it was already answered but an
earlier one was still in flight (offsets are committed only below the lowest unfinished
record). A request is marked here right after its outputs are acknowledged by the broker and
before its offset can be committed, so such a redelivery is recognised and skipped instead of
answered twice (possibly differently: a label the first time, a dead letter the second).

The key names the record (its position) as well as the request: a *new* record with the same
``request_id`` — a client retrying after a dead letter — is answered, never skipped; and a
topic recreated with its offsets starting again cannot make a different request look answered.

Only a crash between the acknowledgement and the mark can still answer a request twice. With
Redis unreachable nothing is marked or found: delivery stays at-least-once. Every read and
mark reports its outcome to ``observe`` (operations ``outcome_read`` and ``outcome_mark``: the
worker's ``tracer_stream_worker_redis_errors_total`` and ``redis_up``).

A dead letter is final only for its attempt: marking one also drops the router's dedupe mark
of the request (:func:`~tracer_stream.registry.keys.seen_key`), so the client's retry with the
same id passes the router again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from tracer_stream.obs.redis_metrics import RedisObserver, ignore
from tracer_stream.registry.keys import seen_key

log = logging.getLogger(__name__)

RecordKey = tuple[str, str, str]
"""``(task, request_id, position)``, the position as made by :func:`position`."""


def position(topic: str | None, partition: int | None, offset: int | None) -> str:
    """Where a record is stored.

    >>> position("tracer.llm-requests", 2, 41)
    'tracer.llm-requests/2/41'
    """
    return f"{topic}/{partition}/{offset}"


class OutcomeLog:
    """Marks answered requests in Redis for ``ttl_s`` seconds (0 disables the log)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "tracer:",
                 ttl_s: int = 24 * 3600, observe: RedisObserver = ignore) -> None:
        self._client = client
        self._prefix = prefix
        self.ttl_s = ttl_s
        self.observe = observe

    def key(self, record: RecordKey) -> str:
        """
        >>> OutcomeLog(None, prefix="p:").key(("intents", "r-1", "t/0/7"))  # type: ignore[arg-type]
        'p:outcome:intents:r-1@t/0/7'
        """
        task, request_id, where = record
        return f"{self._prefix}outcome:{task}:{request_id}@{where}"

    def answered(self, record: RecordKey) -> bool:
        """Whether the record was answered within the window (False when Redis is down)."""
        if self.ttl_s == 0:
            return False
        try:
            found = bool(self._client.exists(self.key(record)))
        except redis.RedisError as exc:
            self.observe("outcome_read", False)
            log.warning("outcome log unreadable (%s); %s is treated as new",
                        type(exc).__name__, self.key(record))
            return False
        self.observe("outcome_read", True)
        return found

    def mark(self, records: Sequence[tuple[RecordKey, str]]) -> bool:
        """Record each ``(record, outcome kind)``; False when Redis failed."""
        if not records or self.ttl_s == 0:
            return True
        try:
            pipe = self._client.pipeline(transaction=False)
            for record, kind in records:
                pipe.set(self.key(record), kind, ex=self.ttl_s)
                if kind == "dead_letter":
                    pipe.delete(seen_key(self._prefix, record[0], record[1]))
            pipe.execute()
        except redis.RedisError as exc:
            self.observe("outcome_mark", False)
            log.warning("cannot mark %d answered record(s) (%s)", len(records),
                        type(exc).__name__)
            return False
        self.observe("outcome_mark", True)
        return True


__all__ = ["OutcomeLog", "RecordKey", "position"]
