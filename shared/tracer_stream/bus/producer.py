"""A Kafka producer that knows when its messages are safely stored, and the one delivery policy.

Services commit their input offsets only after every output of a batch is acknowledged, which
is what makes delivery at-least-once end to end. :meth:`Producer.deliver` is how every service
produces its outputs: send them all, wait for every acknowledgement, and on a failure send the
whole set again after a backoff (duplicates are allowed, losses are not — consumers dedupe by
request id). After :attr:`DeliveryPolicy.attempts` failures it raises :class:`BusError`; the
caller has not committed its input, so the records are redelivered when the service restarts.

>>> DeliveryPolicy().pauses()
[0.2, 0.4, 0.8, 1.6]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import confluent_kafka

from tracer_stream.config import KafkaSettings
from tracer_stream.contracts import Message, Outbound, encode
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How often and how patiently a set of outputs is sent before giving up."""

    attempts: int = 5
    """Sends of the whole set before :class:`BusError` is raised."""
    backoff_s: float = 0.2
    """Pause after the first failure; doubled after each further one."""
    backoff_max_s: float = 5.0
    """Longest pause."""
    ack_timeout_s: float = 30.0
    """How long one attempt waits for the broker's acknowledgements."""

    def pauses(self) -> list[float]:
        """The pauses between attempts."""
        return [min(self.backoff_max_s, self.backoff_s * 2**i) for i in range(self.attempts - 1)]


class Producer:
    """Thin wrapper over :class:`confluent_kafka.Producer` that tracks delivery failures."""

    def __init__(self, kafka: KafkaSettings, **overrides: Any) -> None:
        self._producer = confluent_kafka.Producer(kafka.producer_config() | overrides)
        self._failures: list[str] = []

    def _on_delivery(self, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err}")

    def send(self, topic: str, message: Message, *, key: str | None = None) -> None:
        """Queue a message (encoded with the codec) for ``topic``."""
        self.send_raw(topic, encode(message), key=key)

    def send_raw(self, topic: str, value: bytes, *, key: str | None = None,
                 headers: dict[str, str | bytes | None] | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def deliver(self, outputs: Sequence[Outbound], policy: DeliveryPolicy = DeliveryPolicy(), *,
                sleep: Callable[[float], object] = time.sleep) -> None:
        """Produce ``outputs`` and wait until every one is acknowledged (see the module
        docstring); raises :class:`BusError` when the last attempt fails too."""
        if not outputs:
            return
        pauses = policy.pauses()
        for attempt in range(1, policy.attempts + 1):
            for out in outputs:
                self.send(out.topic, out.message, key=out.key)
            try:
                self.flush_or_raise(policy.ack_timeout_s)
                return
            except BusError as exc:
                if attempt == policy.attempts:
                    raise
                log.warning("delivery attempt %d/%d failed, sending again: %s", attempt,
                            policy.attempts, exc)
                sleep(pauses[attempt - 1])

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
