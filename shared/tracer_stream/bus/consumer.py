"""Micro-batch consumption with explicit commits."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import confluent_kafka

from tracer_stream.config import KafkaSettings

log = logging.getLogger(__name__)


class BatchConsumer:
    """A consumer-group member that hands out micro-batches and commits them on request.

    ``poll_batch`` returns at most ``max_size`` records, waiting at most ``max_wait_s`` after the
    first record arrives. Records carrying a broker error are logged and skipped (they hold no
    data). Nothing is committed until :meth:`commit` is called with the batch.
    """

    def __init__(self, kafka: KafkaSettings, group_id: str, topics: Sequence[str],
                 **overrides: Any) -> None:
        self._consumer = confluent_kafka.Consumer(kafka.consumer_config(group_id) | overrides)
        self._consumer.subscribe(list(topics), on_assign=self._on_assign,
                                 on_revoke=self._on_revoke)
        self.assigned: set[tuple[str, int]] = set()

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self.assigned.update((p.topic, p.partition) for p in partitions)

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        self.assigned.difference_update((p.topic, p.partition) for p in partitions)

    def poll_batch(self, max_size: int, max_wait_s: float, idle_timeout_s: float = 0.2
                   ) -> list[confluent_kafka.Message]:
        """Up to ``max_size`` records; an empty list after ``idle_timeout_s`` without data."""
        first = self._consumer.poll(idle_timeout_s)
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + max_wait_s
        while len(batch) < max_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = self._consumer.consume(max_size - len(batch), timeout=left)
            if not more:
                break
            batch.extend(more)
        return [m for m in batch if not self._is_error(m)]

    @staticmethod
    def _is_error(msg: confluent_kafka.Message) -> bool:
        err = msg.error()
        if err is None:
            return False
        if err.code() != confluent_kafka.KafkaError._PARTITION_EOF:
            log.warning("consumer error on %s[%s]: %s", msg.topic(), msg.partition(), err)
        return True

    def commit(self, batch: Sequence[confluent_kafka.Message]) -> None:
        """Synchronously commit the offsets after the last record of each partition."""
        if not batch:
            return
        last: dict[tuple[str, int], int] = {}
        for m in batch:
            key = (str(m.topic()), int(m.partition() or 0))
            last[key] = max(last.get(key, -1), int(m.offset() or 0))
        offsets = [confluent_kafka.TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self._consumer.close()
