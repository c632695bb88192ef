"""The synchronous client: ``classify`` (request/reply by ``request_id``), ``classify_many``,
and ``stream_labels`` (a subscription to the labels topic)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Generator, Sequence
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

from tracer_stream.bus import Producer
from tracer_stream.client.inbox import ReplyInbox
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import ClassificationRequest, RoutedLabel, decode, now
from tracer_stream.errors import BusError, ContractError

log = logging.getLogger(__name__)

REPLY_RETENTION_MS = 3600 * 1000


class TracerClient:
    """Classify texts through a tracer-stream deployment.

    Replies come back on a private reply topic (``{prefix}replies.{uuid}``, one partition,
    created on first use and deleted by :meth:`close`), or on ``reply_topic`` when given (an
    existing topic shared by several clients; labels are matched by ``request_id``).

    >>> with TracerClient() as client:                                 # doctest: +SKIP
    ...     client.classify("where is my card?", task="intents").label
    'card_arrival'
    """

    def __init__(self, kafka: KafkaSettings | None = None, topics: TopicSettings | None = None,
                 *, reply_topic: str | None = None, admin_timeout_s: float = 10.0) -> None:
        self.kafka = kafka or KafkaSettings()
        self.topics = topics or TopicSettings()
        self._id = uuid.uuid4().hex[:12]
        self._private = reply_topic is None
        self.reply_topic = reply_topic or f"{self.topics.prefix}replies.{self._id}"
        self._admin_timeout_s = admin_timeout_s
        self._producer = Producer(self.kafka)
        self._inbox: ReplyInbox | None = None
        self._consumer: confluent_kafka.Consumer | None = None
        self._setup_lock = threading.Lock()

    # request/reply ---------------------------------------------------------------------
    def classify(self, text: str, task: str, *, timeout_s: float = 30.0,
                 metadata: dict[str, Any] | None = None,
                 request_id: str | None = None) -> RoutedLabel:
        """Send one request and wait for its label (:class:`ClassifyTimeout` after
        ``timeout_s``)."""
        return self.classify_many([text], task, timeout_s=timeout_s, metadata=metadata,
                                  request_ids=None if request_id is None else [request_id])[0]

    def classify_many(self, texts: Sequence[str], task: str, *, timeout_s: float = 30.0,
                      metadata: dict[str, Any] | None = None,
                      request_ids: Sequence[str] | None = None) -> list[RoutedLabel]:
        """Send all requests at once and return their labels in the order of ``texts``."""
        inbox = self._ensure_inbox()
        ids = list(request_ids) if request_ids is not None else [
            uuid.uuid4().hex for _ in texts]
        if len(ids) != len(texts):
            raise ValueError("one request id per text")
        inbox.expect(ids)
        requests_topic = self.topics.name("requests")
        for request_id, text in zip(ids, texts, strict=True):
            self._producer.send(requests_topic, ClassificationRequest(
                request_id=request_id, task=task, text=text, metadata=metadata,
                reply_topic=self.reply_topic, created_at=now()), key=request_id)
        self._producer.flush_or_raise(timeout_s)
        return inbox.collect(ids, timeout_s)

    def _ensure_inbox(self) -> ReplyInbox:
        with self._setup_lock:
            if self._inbox is None:
                if self._private:
                    self._create_reply_topic()
                self._consumer = self._reply_consumer()
                self._inbox = ReplyInbox(self._consumer)
            return self._inbox

    def _create_reply_topic(self) -> None:
        admin = AdminClient(self.kafka.common_config())
        futures = admin.create_topics([NewTopic(
            self.reply_topic, num_partitions=1, replication_factor=self.topics.replication_factor,
            config={"retention.ms": str(REPLY_RETENTION_MS)})])
        try:
            futures[self.reply_topic].result(timeout=self._admin_timeout_s)
        except confluent_kafka.KafkaException as exc:
            raise BusError(f"cannot create the reply topic: {exc}",
                           topic=self.reply_topic) from None

    def _reply_consumer(self) -> confluent_kafka.Consumer:
        """Assigned (not subscribed: no group join) to every partition of the reply topic, at
        the beginning of a private topic or the current end of a shared one."""
        conf = self.kafka.consumer_config(f"tracer-client-{self._id}")
        conf.pop("partition.assignment.strategy", None)
        consumer = confluent_kafka.Consumer(conf)
        meta = consumer.list_topics(self.reply_topic, timeout=self._admin_timeout_s)
        topic = meta.topics.get(self.reply_topic)
        if topic is None or topic.error is not None or not topic.partitions:
            consumer.close()
            raise BusError("reply topic does not exist", topic=self.reply_topic)
        assignment = []
        for p in sorted(topic.partitions):
            offset = confluent_kafka.OFFSET_BEGINNING
            if not self._private:
                offset = consumer.get_watermark_offsets(
                    confluent_kafka.TopicPartition(self.reply_topic, p),
                    timeout=self._admin_timeout_s)[1]
            assignment.append(confluent_kafka.TopicPartition(self.reply_topic, p, offset))
        consumer.assign(assignment)
        return consumer

    # streaming ---------------------------------------------------------------------------
    def stream_labels(self, *, group_id: str | None = None, from_beginning: bool = False,
                      idle_timeout_s: float | None = None) -> Generator[RoutedLabel, None, None]:
        """Every label on the labels topic, as a member of consumer group ``group_id`` (default:
        a new group). A label's offset is committed when the next one is asked for, so a
        restarted subscriber resumes after the last label it finished with. Stops after
        ``idle_timeout_s`` without labels, if given."""
        conf = self.kafka.consumer_config(group_id or f"tracer-labels-{uuid.uuid4().hex[:12]}")
        conf |= {"enable.auto.commit": True, "enable.auto.offset.store": False,
                 "auto.offset.reset": "earliest" if from_beginning else "latest"}
        consumer = confluent_kafka.Consumer(conf)
        consumer.subscribe([self.topics.name("labels")])
        last = time.monotonic()
        try:
            while idle_timeout_s is None or time.monotonic() - last < idle_timeout_s:
                msg = consumer.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                last = time.monotonic()
                try:
                    label = decode(RoutedLabel, msg.value() or b"")
                except ContractError as exc:
                    log.warning("skipping an undecodable label: %s", exc)
                else:
                    yield label
                consumer.store_offsets(msg)
        finally:
            consumer.close()

    # lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Flush pending requests, stop listening, delete the private reply topic."""
        self._producer.close()
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._private and self._inbox is not None:
            admin = AdminClient(self.kafka.common_config())
            future = admin.delete_topics([self.reply_topic])[self.reply_topic]
            try:
                future.result(timeout=self._admin_timeout_s)
            except confluent_kafka.KafkaException as exc:
                log.warning("could not delete reply topic %s: %s", self.reply_topic, exc)
        self._inbox = None

    def __enter__(self) -> TracerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
