"""Model announcements for one router instance: every partition of the models topic is
assigned manually (no consumer group, so every router sees every announcement), starting at
the end. An announcement missed while the router was down does not matter: the refresher reads
the registry at start-up and on a timer."""

from __future__ import annotations

import logging
import uuid

import confluent_kafka

from tracer_stream.config import KafkaSettings
from tracer_stream.contracts import ModelAnnounce, decode
from tracer_stream.errors import ContractError

log = logging.getLogger(__name__)


class AnnouncementFeed:
    """``poll(timeout_s)`` → the decoded announcements that arrived."""

    def __init__(self, kafka: KafkaSettings, topic: str, *, timeout_s: float = 10.0) -> None:
        conf = kafka.consumer_config(f"tracer-router-announce-{uuid.uuid4().hex[:12]}")
        conf.pop("partition.assignment.strategy", None)
        self._consumer = confluent_kafka.Consumer(conf)
        self._topic = topic
        meta = self._consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        partitions = sorted(meta.partitions) if meta is not None and not meta.error else []
        if not partitions:
            log.warning("models topic %s has no partitions yet; relying on registry polls",
                        topic)
        self._consumer.assign([confluent_kafka.TopicPartition(topic, p,
                                                              confluent_kafka.OFFSET_END)
                               for p in partitions])

    def poll(self, timeout_s: float) -> list[ModelAnnounce]:
        first = self._consumer.poll(timeout_s)  # returns at the first message
        if first is None:
            return []
        out = []
        for msg in [first, *self._consumer.consume(64, timeout=0)]:
            if msg.error() is not None:
                continue
            try:
                out.append(decode(ModelAnnounce, msg.value() or b""))
            except ContractError as exc:
                log.warning("ignoring a bad announcement on %s: %s", self._topic, exc)
        return out

    def close(self) -> None:
        self._consumer.close()
