"""The partitions of one worker: what is in flight on each, when to pause, what to commit,
and what to do when a partition is taken away.

A revoked partition's unfinished requests are cancelled without publishing anything for them
(the new owner answers them); what was already handed to the publisher is acknowledged and
committed before the partition is released, and its requests are marked answered, so the
new owner skips them. Kafka hands a revoked partition to its new owner only after the
revocation callback returned, which is what makes this exactly one outcome per request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import confluent_kafka

from tracer_stream.labelling import Backpressure, InFlight, Partition
from tracer_stream_worker.metrics import WorkerMetrics
from tracer_stream_worker.publisher import Publisher

log = logging.getLogger(__name__)
RELEASE_WAIT_S = 10.0
"""How long a revocation waits for outputs already being published."""


class Partitions:
    """In-flight work per partition, backpressure, commits and revocation."""

    def __init__(self, consumer: confluent_kafka.Consumer, publisher: Publisher,
                 metrics: WorkerMetrics, *, max_pending: int) -> None:
        self.consumer = consumer
        self.publisher = publisher
        self.metrics = metrics
        self.ledger = InFlight()
        self.gate = Backpressure(high=max_pending, low=max_pending * 3 // 4)
        self.work: dict[Partition, dict[int, asyncio.Task[None]]] = {}
        self.assigned: set[Partition] = set()
        self.paused: set[Partition] = set()

    def subscribe(self, topic: str) -> None:
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)

    def room(self) -> int:
        """Records that may be taken now (at least 1: a poll must happen anyway)."""
        return max(self.gate.room(self.ledger.pending()), 1)

    def track(self, partition: Partition, offset: int, task: asyncio.Task[None]) -> None:
        self.ledger.start(partition, offset)
        tasks = self.work.setdefault(partition, {})
        tasks[offset] = task
        task.add_done_callback(lambda _t: tasks.pop(offset, None))

    def unfinished(self) -> list[asyncio.Task[None]]:
        return [task for tasks in self.work.values() for task in tasks.values()]

    def settle(self) -> None:
        """Move acknowledged requests out of the ledger."""
        for item in self.publisher.take_acknowledged():
            if self.ledger.finish(item.partition, item.offset):
                self.metrics.published(item.outputs)
        self.metrics.pending.set(self.ledger.pending())

    def throttle(self) -> None:
        """Pause every assigned partition at the high-water mark; resume at the low one."""
        self.gate.update(self.ledger.pending())
        self.metrics.paused.set(int(self.gate.paused))
        if self.gate.paused and (fresh := self.assigned - self.paused):
            self.consumer.pause(_tps(fresh))
            self.paused |= fresh
        elif not self.gate.paused and self.paused:
            self.consumer.resume(_tps(self.paused))
            self.paused.clear()

    def pause_all(self) -> None:
        if self.assigned:
            self.consumer.pause(_tps(self.assigned))

    def commit_due(self) -> None:
        """Commit (asynchronously) every commit point that moved."""
        self._commit(self.ledger.due(), asynchronous=True)

    def commit_now(self, parts: set[Partition] | list[Partition] | None = None) -> None:
        """Commit the commit points of ``parts`` (default: all assigned) synchronously."""
        chosen = self.assigned if parts is None else parts
        self._commit({p: o for p in chosen if (o := self.ledger.commit_point(p)) is not None},
                     asynchronous=False)

    def _commit(self, offsets: dict[Partition, int], *, asynchronous: bool) -> None:
        if not offsets:
            return
        tps = [confluent_kafka.TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if asynchronous:
                self.consumer.commit(offsets=tps, asynchronous=True)
            else:
                self.consumer.commit(offsets=tps, asynchronous=False)
            self.ledger.committed(offsets)
        except confluent_kafka.KafkaException as exc:
            log.warning("commit failed (%s); records may be redelivered", exc)

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        parts = {(p.topic, p.partition) for p in partitions}
        self.assigned |= parts
        if parts:
            log.info("partitions %s assigned", sorted(parts))

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        self._release([(p.topic, p.partition) for p in partitions], commit=True)

    def _on_lost(self, _consumer: Any, partitions: list[Any]) -> None:
        self._release([(p.topic, p.partition) for p in partitions], commit=False)

    def _release(self, parts: list[Partition], *, commit: bool) -> None:
        cancelled = 0
        for part in parts:
            for task in self.work.pop(part, {}).values():
                cancelled += task.cancel()
        if commit:
            self.publisher.wait_idle(RELEASE_WAIT_S)
            self.settle()
            self.commit_now(parts)
        for part in parts:
            self.ledger.revoke(part)
        self.assigned.difference_update(parts)
        self.paused.difference_update(parts)
        if cancelled:
            self.metrics.revoked.inc(cancelled)
        log.info("partitions %s %s: %d unfinished request(s) cancelled, left to the new owner",
                 sorted(parts), "revoked" if commit else "lost", cancelled)


def _tps(parts: set[Partition]) -> list[confluent_kafka.TopicPartition]:
    return [confluent_kafka.TopicPartition(t, p) for t, p in sorted(parts)]


__all__ = ["Partitions"]
