"""A Kafka producer that knows when its messages are safely stored, and the one delivery policy.

Services commit their input offsets only after every output of a batch is acknowledged, which
is what makes delivery at-least-once end to end. :meth:`Producer.deliver` is how every service
produces its outputs: send them all, wait for every acknowledgement, and on a failure send
again, after a backoff, every output that was not acknowledged (duplicates are allowed, losses
are not — consumers dedupe by request id). After :attr:`DeliveryPolicy.attempts` failures it
raises :class:`BusError`; the caller has not committed its input, so the records are
redelivered when the service restarts. A ``reroute`` hook may replace an output that failed
(:meth:`tracer_stream.bus.reply_topics.ReplyTopics.rerouter` turns a label its reply topic
refuses into a dead letter), so that one broken destination never stops a service.

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

DeliveryCallback = Callable[[confluent_kafka.KafkaError | None], None]
"""Told the outcome of one message: None when it was acknowledged, else the error."""
Reroute = Callable[[Outbound, confluent_kafka.KafkaError, bool], Outbound | None]
"""Given an output that failed, its error and whether this was the last attempt: a replacement
to send instead (once), or None to send it again."""


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

    def deliver(self, outputs: Sequence[Outbound], policy: DeliveryPolicy = DeliveryPolicy(), *,
                sleep: Callable[[float], object] = time.sleep,
                reroute: Reroute | None = None) -> list[Outbound]:
        """Produce ``outputs`` and wait until every one is acknowledged (see the module
        docstring); returns what was delivered (``outputs`` with the rerouted ones replaced).
        Raises :class:`BusError` when outputs still fail after the last attempt."""
        current = list(outputs)
        pending = list(range(len(current)))
        pauses = policy.pauses()
        attempt = 0
        while pending:
            attempt += 1
            last = attempt >= policy.attempts
            errors = self._send_round(current, pending, policy.ack_timeout_s)
            pending = [i for i in pending if i not in errors or errors[i] is not None]
            retried = []
            for index in pending:
                err = errors.get(index)  # None: not acknowledged in time, it may still arrive
                replacement = None if err is None or reroute is None else reroute(
                    current[index], err, last)
                if replacement is None:
                    retried.append(index)
                else:
                    current[index] = replacement
            if retried and last:
                raise BusError(f"{len(retried)} output(s) undelivered after {attempt} attempts")
            if retried:
                log.warning("delivery attempt %d/%d: %d output(s) not delivered, sending "
                            "again", attempt, policy.attempts, len(retried))
                sleep(pauses[min(attempt, len(pauses)) - 1])
        return current

    def _send_round(self, current: Sequence[Outbound], indexes: Sequence[int],
                    timeout_s: float) -> dict[int, confluent_kafka.KafkaError | None]:
        """Send ``current[i]`` for each index and flush; the delivery error (None:
        acknowledged) of every index that got a report."""
        errors: dict[int, confluent_kafka.KafkaError | None] = {}

        def report(index: int) -> DeliveryCallback:
            def reported(err: confluent_kafka.KafkaError | None) -> None:
                errors[index] = err
            return reported

        for index in indexes:
            out = current[index]
            self.send(out.topic, out.message, key=out.key, on_delivery=report(index))
        try:
            self.flush_or_raise(timeout_s)
        except BusError as exc:
            log.debug("some outputs failed: %s", exc)
        return errors

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
