"""Read-only views of the deployment's topics for ``tracer-stream status``: consumer-group lag,
and the messages of the last window of time (never joins a group, never commits)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from tracer_stream.cli._reach import quiet_config
from tracer_stream.errors import BusError

if TYPE_CHECKING:
    from tracer_stream.config import KafkaSettings

__all__ = ["group_lag", "read_topic", "recent_messages"]


def group_lag(kafka: KafkaSettings, group_id: str, topic: str,
              timeout_s: float = 5.0) -> int | None:
    """Records of ``topic`` not yet committed by ``group_id`` (``None``: the group has never
    committed on it or the topic does not exist)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(quiet_config(kafka.consumer_config(group_id)))
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return None
        partitions = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        committed = consumer.committed(partitions, timeout=timeout_s)
        if all(tp.offset < 0 for tp in committed):
            return None
        lag = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()


def recent_messages(kafka: KafkaSettings, topic: str, window_s: float, *,
                    limit: int = 200_000) -> Iterator[dict[str, Any]]:
    """The JSON objects written to ``topic`` in the last ``window_s`` seconds (unreadable
    messages are skipped)."""
    since_ms = int((time.time() - window_s) * 1000)
    for msg in read_topic(kafka, topic, since_ms=since_ms, limit=limit):
        try:
            value = orjson.loads(msg.value() or b"")
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            yield value


def read_topic(kafka: KafkaSettings, topic: str, *, since_ms: int = 0, limit: int = 200_000,
               timeout_s: float = 5.0) -> Iterator[Any]:
    """The messages of ``topic`` written since ``since_ms`` (epoch milliseconds; 0: from the
    beginning) until every partition is read to its end, partition by partition in offset
    order; at most ``limit``. The end is where the broker says a partition ends (end-of-
    partition event), not a watermark read beforehand: some Kafka-protocol brokers report a
    high watermark that lags their last batch. Raises :class:`BusError` when the topic does not
    exist."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(quiet_config(kafka.consumer_config(f"tracer-read-{uuid.uuid4().hex}")
                                     | {"enable.partition.eof": True}))
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            raise BusError(f"topic {topic} does not exist on {kafka.bootstrap_servers} "
                           "(tracer-stream topics create)")
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, since_ms) for p in sorted(meta.partitions)],
            timeout=timeout_s)
        todo = [tp for tp in starts if tp.offset >= 0]
        if not todo:
            return
        consumer.assign(todo)
        remaining, seen = {tp.partition for tp in todo}, 0
        idle_until = time.monotonic() + timeout_s
        while remaining and seen < limit and time.monotonic() < idle_until:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            idle_until = time.monotonic() + timeout_s
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(msg.partition())
                continue
            seen += 1
            yield msg
    finally:
        consumer.close()
