"""The streaming loop: every request flows on its own from the consumer to the publisher.

The event loop polls the consumer without blocking (``consume(timeout=0)`` every few ms, so
``max.poll.interval.ms`` is never at risk, and paused partitions keep their membership), starts
one asyncio task per record, and hands each request's outputs to the publisher the moment they
exist. :class:`~tracer_stream_worker.partitions.Partitions` keeps the books.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import confluent_kafka

from tracer_stream.contracts import Outbound
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.labelling import (
    Intake,
    Job,
    Labeller,
    Origin,
    Partition,
    Prepared,
    RegistryUnavailable,
)
from tracer_stream.labelling.outputs import dead_letter
from tracer_stream.obs import Heartbeat, StopFlag
from tracer_stream_worker.metrics import WorkerMetrics
from tracer_stream_worker.partitions import RELEASE_WAIT_S, Partitions
from tracer_stream_worker.publisher import Finished, Publisher

log = logging.getLogger(__name__)
IDLE_S = 0.005
"""Pause between polls that returned nothing."""
COMMIT_EVERY_S = 0.5
REGISTRY_RETRY_S = 1.0


class StreamingLoop:
    """Polls, starts one task per record, publishes each outcome as soon as it exists."""

    def __init__(self, consumer: confluent_kafka.Consumer, *, intake: Intake,
                 labeller: Labeller, publisher: Publisher, metrics: WorkerMetrics,
                 heartbeat: Heartbeat, stop: StopFlag, max_pending: int,
                 drain_timeout_s: float) -> None:
        self.consumer = consumer
        self.intake = intake
        self.labeller = labeller
        self.publisher = publisher
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.stop = stop
        self.drain_timeout_s = drain_timeout_s
        self.partitions = Partitions(consumer, publisher, metrics, max_pending=max_pending)
        self.registry_ok = True
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="intake")

    async def run(self) -> None:
        """Until stopped (or publishing failed), then drain."""
        books = self.partitions
        last_commit = time.monotonic()
        while not self.stop.stopping and self.publisher.failure is None:
            self.heartbeat.beat()
            books.settle()
            books.throttle()
            self.metrics.in_flight.set(self.labeller.slots.busy)
            records = self.consumer.consume(books.room(), 0)
            for record in records:
                self._start(record)
            if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                books.commit_due()
                last_commit = time.monotonic()
            await asyncio.sleep(0 if records else IDLE_S)
        await self._drain()

    def _start(self, record: confluent_kafka.Message) -> None:
        err = record.error()
        if err is not None:
            if err.code() != confluent_kafka.KafkaError._PARTITION_EOF:
                log.warning("consumer error on %s[%s]: %s", record.topic(), record.partition(),
                            err)
            return
        partition, offset = (str(record.topic()), int(record.partition() or 0)), int(
            record.offset() or 0)
        origin = Origin(partition[0], partition[1], offset, record.value())
        self.metrics.consumed.inc()
        self.partitions.track(partition, offset,
                              asyncio.create_task(self._handle(origin, partition, offset)))

    async def _handle(self, origin: Origin, partition: Partition, offset: int) -> None:
        try:
            outputs = await self._outputs(await self._prepare(origin))
        except Exception as exc:  # a bug must not drop the request nor stop the worker
            log.exception("record %s[%s]@%s: unexpected error", origin.topic, origin.partition,
                          origin.offset)
            outputs = [dead_letter(DeadLetterReason.LLM_FAILURE,
                                   f"[internal_error] {type(exc).__name__}: {exc}",
                                   origin=origin, topics=self.intake.topics)]
        if self.partitions.ledger.owns(partition, offset):
            self.publisher.submit(Finished(partition, offset, outputs))

    async def _prepare(self, origin: Origin) -> Prepared:
        loop = asyncio.get_running_loop()
        while True:
            try:
                prepared = await loop.run_in_executor(self._pool, self.intake.prepare,
                                                      origin.value, origin)
                self.registry_ok = True
                return prepared
            except RegistryUnavailable as exc:
                if self.registry_ok:
                    log.error("%s; waiting for Redis", exc)
                self.registry_ok = False
                await asyncio.sleep(REGISTRY_RETRY_S)

    async def _outputs(self, prepared: Prepared) -> list[Outbound]:
        if isinstance(prepared, Job):
            result = await self.labeller.label(prepared)
            self.metrics.labelled(prepared.task.name, result)
            return result.outputs
        if isinstance(prepared, Outbound):
            return [prepared]
        self.metrics.skipped.inc()
        return []

    async def _drain(self) -> None:
        """Stop taking records; let unfinished requests finish within the drain timeout and
        cancel the rest (uncommitted, so redelivered); publish and commit what finished."""
        self.partitions.pause_all()
        tasks = self.partitions.unfinished()
        if tasks:
            log.info("stopping: up to %g s for %d unfinished request(s)", self.drain_timeout_s,
                     len(tasks))
            _, late = await asyncio.wait(tasks, timeout=self.drain_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.publisher.wait_idle(RELEASE_WAIT_S)
        self.partitions.settle()
        self.partitions.commit_now()
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["StreamingLoop"]
