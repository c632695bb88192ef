"""Read-only views of the deployment's topics for ``tracer-stream status``: consumer-group lag,
and the messages of the last window of time (never joins a group, never commits)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from tracer_stream.cli._reach import quiet_config

if TYPE_CHECKING:
    from tracer_stream.config import KafkaSettings

__all__ = ["group_lag", "recent_messages"]


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
                    limit: int = 200_000, timeout_s: float = 5.0) -> Iterator[dict[str, Any]]:
    """The JSON messages written to ``topic`` in the last ``window_s`` seconds, up to the end
    the topic had when the call started (at most ``limit``; unreadable ones are skipped)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(quiet_config(kafka.consumer_config(f"tracer-status-{uuid.uuid4().hex}")
                                     | {"enable.partition.eof": True}))
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            return
        since_ms = int((time.time() - window_s) * 1000)
        starts = consumer.offsets_for_times(
            [TopicPartition(topic, p, since_ms) for p in sorted(meta.partitions)],
            timeout=timeout_s)
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout_s)[1]
                for tp in starts}
        todo = [tp for tp in starts if 0 <= tp.offset < ends[tp.partition]]
        if not todo:
            return
        consumer.assign(todo)
        remaining, seen = {tp.partition for tp in todo}, 0
        deadline = time.monotonic() + 60.0
        while remaining and seen < limit and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None or msg.offset() >= ends[msg.partition()] - 1:
                remaining.discard(msg.partition())
                if msg.error() is not None:
                    continue
            seen += 1
            try:
                value = orjson.loads(msg.value() or b"")
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value
    finally:
        consumer.close()
