"""Bring the snapshot up to the traces topic before the consumer group takes over.

The traces topic is the system of record; the snapshot records the offsets it covers
(:mod:`tracer_stream.training.snapshot`). On start the trainer reads every partition from the
covered offset (from the beginning when the snapshot is missing) up to the larger of the
partition's end offset and the trainer group's committed offset, with partitions assigned
directly (no group membership, nothing committed). After that the group's consumer resumes at
its committed offsets, which are never beyond what was read here, so no trace is skipped; what
both read is dropped as a duplicate. Losing the trainer's disk therefore loses nothing.

Reading stops once every partition reached its target, or when nothing arrived for ``idle_s``
(a compacted tail); the group's consumer reads whatever comes after.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import confluent_kafka
from confluent_kafka import TopicPartition

from tracer_stream.config import KafkaSettings
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[bytes], Sequence[Source]], object]


def catch_up(kafka: KafkaSettings, topic: str, group_id: str, covered: dict[int, int],
             handle: Handler, *, batch_size: int = 2000, idle_s: float = 5.0,
             timeout_s: float = 15.0) -> int:
    """Read ``topic`` from the ``covered`` offsets to its end (see above), handing batches of
    raw values and their positions to ``handle``; returns the number of messages read."""
    consumer = confluent_kafka.Consumer(kafka.consumer_config(group_id))
    try:
        targets = _targets(consumer, topic, covered, timeout_s)
        if not targets:
            return 0
        consumer.assign([TopicPartition(topic, p, start) for p, (start, _) in targets.items()])
        remaining = {p: end for p, (_, end) in targets.items()}
        log.info("catching up on %s from the snapshot's offsets: %s", topic,
                 {p: f"{s}..{e}" for p, (s, e) in targets.items()})
        read = 0
        idle_since = time.monotonic()
        while remaining:
            messages = _fill(consumer, batch_size)
            if not messages:
                if time.monotonic() - idle_since >= idle_s:
                    log.warning("catch-up on %s idle for %.0f s short of %s; the consumer "
                                "group reads the rest", topic, idle_s, remaining)
                    break
                continue
            idle_since = time.monotonic()
            sources = [Source(topic, m.partition(), m.offset()) for m in messages]
            handle([m.value() or b"" for m in messages], sources)
            read += len(messages)
            for src in sources:
                assert src.partition is not None and src.offset is not None  # read messages
                if src.partition in remaining and src.offset + 1 >= remaining[src.partition]:
                    del remaining[src.partition]
        return read
    finally:
        consumer.close()


def _fill(consumer: confluent_kafka.Consumer, batch_size: int, max_wait_s: float = 1.0
          ) -> list[confluent_kafka.Message]:
    """Up to ``batch_size`` messages, gathered for at most ``max_wait_s`` (big batches make
    few parts and fsyncs); fewer when the stream pauses."""
    batch: list[confluent_kafka.Message] = []
    deadline = time.monotonic() + max_wait_s
    while len(batch) < batch_size and time.monotonic() < deadline:
        got = consumer.consume(batch_size - len(batch), timeout=0.2)
        if not got:
            break
        batch.extend(m for m in got if m.error() is None)
    return batch


def _targets(consumer: confluent_kafka.Consumer, topic: str, covered: dict[int, int],
             timeout_s: float) -> dict[int, tuple[int, int]]:
    """``{partition: (start, end)}`` of the partitions the snapshot is behind on."""
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if meta.error is not None:
            raise BusError(f"cannot read topic {topic}: {meta.error}", topic=topic)
        partitions = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        committed = {tp.partition: tp.offset
                     for tp in consumer.committed(partitions, timeout=timeout_s)}
        targets = {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
            start = max(covered.get(tp.partition, low), low)
            end = max(high, committed.get(tp.partition, -1))
            if start < end:
                targets[tp.partition] = (start, end)
        return targets
    except confluent_kafka.KafkaException as exc:
        raise BusError(f"cannot read the offsets of {topic}: {exc}", topic=topic) from None
