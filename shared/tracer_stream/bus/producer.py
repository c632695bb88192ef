"""A Kafka producer that knows when its messages are safely stored.

Services commit their input offsets only after every output of a batch is acknowledged
(:meth:`Producer.flush_or_raise`), which is what makes delivery at-least-once end to end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import confluent_kafka

from tracer_stream.config import KafkaSettings
from tracer_stream.contracts import Message, encode
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[confluent_kafka.KafkaError | None], None]
"""Told the outcome of one message: None when it was acknowledged, else the error."""


class Producer:
    """Thin wrapper over :class:`confluent_kafka.Producer` that tracks delivery failures."""

    def __init__(self, kafka: KafkaSettings, **overrides: Any) -> None:
        self._producer = confluent_kafka.Producer(kafka.producer_config() | overrides)
        self._failures: list[str] = []

    def _on_delivery(self, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err}")

    def send(self, topic: str, message: Message, *, key: str | None = None,
             on_delivery: DeliveryCallback | None = None) -> None:
        """Queue a message (encoded with the codec) for ``topic``; ``on_delivery`` is told its
        outcome during a later poll or flush."""
        self.send_raw(topic, encode(message), key=key, on_delivery=on_delivery)

    def send_raw(self, topic: str, value: bytes, *, key: str | None = None,
                 headers: dict[str, str | bytes | None] | None = None,
                 on_delivery: DeliveryCallback | None = None) -> None:
        def delivered(err: confluent_kafka.KafkaError | None, msg: Any) -> None:
            self._on_delivery(err, msg)
            if on_delivery is not None:
                on_delivery(err)

        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,
                                       on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush_or_raise(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued message is acknowledged; raise :class:`BusError` otherwise."""
        remaining = self._producer.flush(timeout_s)
        failures, self._failures = self._failures, []
        if remaining or failures:
            raise BusError(
                f"{remaining} message(s) unacknowledged, {len(failures)} failed",
                first_failure=failures[0] if failures else None,
            )

    def topic_names(self, timeout_s: float = 5.0) -> set[str]:
        """The names of the topics that exist on the cluster (from broker metadata)."""
        try:
            metadata = self._producer.list_topics(timeout=timeout_s)
        except confluent_kafka.KafkaException as exc:
            raise BusError(f"cannot list topics: {exc}") from None
        return set(metadata.topics)

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
