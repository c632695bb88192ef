"""The LLM worker service: wiring of the bus, the registry, the teacher and the labelling
rules (:mod:`tracer_stream.labelling`) into the streaming loop, plus probes and shutdown.

Every consumed record ends in exactly one of: a trace (plus the requester's label when
``answer_requester``), or one dead letter. See ``docs/worker.md`` for how the streaming loop
works and what it guarantees.
"""

from __future__ import annotations

import asyncio
import logging

import confluent_kafka

from tracer_stream.bus import Producer
from tracer_stream.bus.reply_topics import ReplyTopics
from tracer_stream.config import WorkerSettings
from tracer_stream.labelling import CallSlots, Intake, Labeller, OutcomeLog, TaskCache
from tracer_stream.llm import Teacher, build_teacher
from tracer_stream.obs import Heartbeat, ServiceHTTP, StopFlag
from tracer_stream.registry import Registry, TaskWatch
from tracer_stream_worker.metrics import WorkerMetrics
from tracer_stream_worker.publisher import Publisher
from tracer_stream_worker.stream import StreamingLoop

log = logging.getLogger(__name__)


class WorkerService:
    """One worker process. Collaborators can be injected (tests); by default everything is
    built from ``settings``."""

    def __init__(self, settings: WorkerSettings, *, teacher: Teacher | None = None,
                 registry: Registry | None = None, stop: StopFlag | None = None) -> None:
        self.settings = settings
        self.source_topic = settings.topics.name("llm_requests")
        self.teacher = teacher or build_teacher(settings)
        self.registry = registry or Registry.from_settings(settings.redis)
        self.stop = stop or StopFlag()
        self.metrics = WorkerMetrics()
        self.heartbeat = Heartbeat()
        self.producer = Producer(settings.kafka)
        outcomes = OutcomeLog(self.registry.client, prefix=self.registry.prefix,
                              ttl_s=settings.outcome_ttl_s, observe=self.metrics.redis.observe)
        reply_topics = ReplyTopics.of(self.producer, settings.topics)
        self.publisher = Publisher(self.producer, outcomes, reroute=reply_topics.rerouter(
            "worker", settings.topics.name("dead_letter")))
        self.tasks = TaskCache(self.registry, settings.task_refresh_s,
                               observe=self.metrics.redis.observe)
        """A task-change feed calls ``self.tasks.invalidate(task)``."""
        intake = Intake(topics=settings.topics, limits=settings.limits, tasks=self.tasks,
                        reply_refusal=reply_topics.refusal,
                        outcomes=outcomes)
        self.labeller = Labeller(self.teacher,
                                 CallSlots(settings.max_concurrency, settings.task_concurrency),
                                 settings.topics, give_up_after_s=settings.give_up_after_s)
        self.consumer = confluent_kafka.Consumer(
            settings.kafka.consumer_config(settings.group_id))
        self.loop = StreamingLoop(self.consumer, intake=intake, labeller=self.labeller,
                                  publisher=self.publisher, metrics=self.metrics,
                                  heartbeat=self.heartbeat, stop=self.stop,
                                  max_pending=settings.pending_bound,
                                  drain_timeout_s=settings.drain_timeout_s)

    def ready(self) -> bool:
        return bool(self.loop.partitions.assigned) and self.loop.registry_ok

    def run(self) -> int:
        """The main loop; returns the exit code (1 when outputs could not be published)."""
        http = ServiceHTTP(self.settings.http_host, self.settings.http_port,
                           healthy=self.heartbeat.healthy, ready=self.ready,
                           registry=self.metrics.registry).start()
        log.info("worker: teacher %s, consuming %s as group %s, %d calls in flight at most "
                 "(%d per task), probes on http://%s:%d", self.teacher.name, self.source_topic,
                 self.settings.group_id, self.settings.max_concurrency,
                 self.settings.task_concurrency, self.settings.http_host, http.port)
        self.loop.partitions.subscribe(self.source_topic)
        task_watch = TaskWatch(self.registry, self.tasks.invalidate,
                               observe=self.metrics.redis.observe).start()
        try:
            with asyncio.Runner() as runner:
                try:
                    runner.run(self.loop.run())
                finally:
                    runner.run(self.teacher.aclose())
        finally:
            task_watch.stop()
            self.consumer.close()
            self.publisher.close()
            self.producer.close()
            self.registry.close()
            http.stop()
        failed = self.publisher.failure is not None
        log.info("worker stopped%s", " (publishing failed)" if failed else "")
        return 1 if failed else 0


def run(settings: WorkerSettings) -> int:
    """Build the worker from settings, install the signal handlers, run until stopped."""
    return WorkerService(settings, stop=StopFlag().install()).run()


__all__ = ["WorkerService", "run"]
