"""The demo's Kafka client side: it produces each day's requests to the requests topic, and a
background thread consumes the labels, traces and dead-letter topics into the
:class:`~tracer_stream.demo.ledger.Ledger`."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import confluent_kafka
import orjson

from tracer_stream.bus import Producer
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import ClassificationRequest
from tracer_stream.demo.ledger import Ledger

__all__ = ["Collector", "send_requests"]

log = logging.getLogger(__name__)


def send_requests(producer: Producer, topics: TopicSettings, task: str,
                  requests: Sequence[tuple[str, str]], day: int) -> None:
    """Produce ``(request_id, text)`` pairs, keyed by request id, and wait for the acks."""
    topic = topics.name("requests")
    for request_id, text in requests:
        producer.send(topic, ClassificationRequest(request_id=request_id, task=task, text=text,
                                                   metadata={"demo_day": day}),
                      key=request_id)
    producer.flush_or_raise()


class Collector(threading.Thread):
    """Consumes labels, traces and dead letters from the beginning of the topics."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings, ledger: Ledger) -> None:
        super().__init__(name="demo-collector", daemon=True)
        self._config = kafka.consumer_config(f"demo-collector-{uuid.uuid4().hex[:8]}")
        self._handlers = {topics.name("labels"): ledger.on_label,
                          topics.name("traces"): ledger.on_trace,
                          topics.name("dead_letter"): ledger.on_dead_letter}
        self._halt = threading.Event()
        self.assigned = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        consumer = confluent_kafka.Consumer(self._config)
        try:
            consumer.subscribe(list(self._handlers), on_assign=self._on_assign)
            while not self._halt.is_set():
                for message in consumer.consume(500, timeout=0.2):
                    self._handle(message)
        except BaseException as exc:  # surfaced by the demo loop, which stops the run
            self.error = exc
        finally:
            consumer.close()

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        if partitions:
            self.assigned.set()

    def _handle(self, message: confluent_kafka.Message) -> None:
        if message.error() is not None:
            return
        try:
            record = orjson.loads(message.value() or b"")
        except orjson.JSONDecodeError:
            log.warning("undecodable message on %s", message.topic())
            return
        if isinstance(record, dict):
            self._handlers[str(message.topic())](record)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(10.0)
