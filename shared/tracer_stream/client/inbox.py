"""Waiting for labels by ``request_id`` on a reply topic, from any number of threads.

One thread at a time polls the consumer; every label that arrives is filed under its request
id and the waiting threads are woken. Labels nobody waits for (late arrivals after a timeout,
at-least-once duplicates) are dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence

import confluent_kafka

from tracer_stream.contracts import RoutedLabel, decode
from tracer_stream.errors import ContractError, TracerStreamError

log = logging.getLogger(__name__)


class ClassifyTimeout(TracerStreamError):
    """No label arrived in time. The request may have been dead-lettered (unknown task, text
    too long...): see the dead-letter topic for its ``request_id``."""

    def __init__(self, message: str, *, missing: Sequence[str], **context: object) -> None:
        super().__init__(message, missing=list(missing)[:5], **context)
        self.missing = list(missing)


class ReplyInbox:
    """Files the labels of a consumer by request id until someone collects them."""

    def __init__(self, consumer: confluent_kafka.Consumer) -> None:
        self._consumer = consumer
        self._poll_lock = threading.Lock()
        self._cond = threading.Condition()
        self._waiting: set[str] = set()
        self._results: dict[str, RoutedLabel] = {}

    def expect(self, request_ids: Iterable[str]) -> None:
        """Announce ids before their requests are produced (so no label is missed)."""
        with self._cond:
            self._waiting.update(request_ids)

    def collect(self, request_ids: Sequence[str], timeout_s: float) -> list[RoutedLabel]:
        """The labels of ``request_ids`` in that order; :class:`ClassifyTimeout` otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._cond:
                if all(i in self._results for i in request_ids):
                    self._waiting.difference_update(request_ids)
                    return [self._results.pop(i) for i in request_ids]
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [i for i in request_ids if i not in self._results]
                    for i in request_ids:
                        self._waiting.discard(i)
                        self._results.pop(i, None)
                    raise ClassifyTimeout(
                        f"no label for {len(missing)} of {len(request_ids)} request(s) within "
                        f"{timeout_s} s (dead-lettered? see the dead-letter topic)",
                        missing=missing)
            if self._poll_lock.acquire(blocking=False):
                try:
                    self._poll(min(0.1, left))
                finally:
                    self._poll_lock.release()
            else:
                with self._cond:
                    self._cond.wait(min(0.1, left))

    def _poll(self, timeout_s: float) -> None:
        # poll() returns at the first message; consume(n, t) would wait for n messages or t
        first = self._consumer.poll(timeout_s)
        if first is None:
            return
        messages = [first, *self._consumer.consume(255, timeout=0)]
        labels = []
        for msg in messages:
            if msg.error() is not None:
                continue
            try:
                labels.append(decode(RoutedLabel, msg.value() or b""))
            except ContractError as exc:
                log.warning("ignoring an undecodable label on %s: %s", msg.topic(), exc)
        with self._cond:
            for label in labels:
                if label.request_id in self._waiting and label.request_id not in self._results:
                    self._results[label.request_id] = label
            self._cond.notify_all()
