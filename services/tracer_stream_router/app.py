"""The router process: consume requests in micro-batches, route them with
:class:`~tracer_stream.routing.BatchRouter`, produce the outputs, wait for their
acknowledgement, mark the requests answered, commit. SIGTERM finishes the batch in hand,
commits and exits 0."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence

import confluent_kafka
import redis
from prometheus_client import REGISTRY, CollectorRegistry
from threadpoolctl import threadpool_limits

from tracer_stream.bus import BatchConsumer, Producer
from tracer_stream.bus.reply_topics import ReplyTopics
from tracer_stream.config import RouterSettings, masked_dump
from tracer_stream.obs import Heartbeat, ServiceHTTP, StopFlag
from tracer_stream.registry import Registry, TaskWatch
from tracer_stream.routing import (
    BatchRouter,
    Deduper,
    EmbedderPool,
    EmbeddingCache,
    Limits,
    ModelHolder,
    ModelRefresher,
    RedisGuard,
    RouterMetrics,
    RouterTopics,
    StateLoader,
    TaskResolver,
)
from tracer_stream.routing.novelty_watch import DETECTOR as NOVELTY_DETECTOR
from tracer_stream.routing.novelty_watch import SOURCE as NOVELTY_SOURCE
from tracer_stream.routing.novelty_watch import NoveltyAlarm, NoveltyWatch
from tracer_stream_router.announcements import AnnouncementFeed

log = logging.getLogger("tracer_stream.router")


class RouterService:
    """Wires settings to the routing library; :meth:`run` is the main loop."""

    def __init__(self, settings: RouterSettings, *, stop: StopFlag | None = None,
                 metrics_registry: CollectorRegistry = REGISTRY) -> None:
        self.settings = settings
        verify_keys = settings.verify_keys()  # no key: refuse to start, naming the setting
        self.stop = stop or StopFlag()
        self.heartbeat = Heartbeat()
        self.metrics = RouterMetrics(metrics_registry)
        self._metrics_registry = metrics_registry
        topics = settings.topics
        prefix = settings.redis.key_prefix
        client = settings.redis.client()
        self.registry = Registry(client, prefix)
        self.guard = RedisGuard(observe=self.metrics.redis.observe)
        self.holder = ModelHolder()
        self.embedders = EmbedderPool(settings.embedder)
        self.loader = StateLoader(self.registry, verify_keys, self.embedders)
        self.deduper = Deduper(client, self.guard, prefix=prefix, ttl_s=settings.dedupe_ttl_s)
        self.producer = Producer(settings.kafka)
        self.reply_topics = ReplyTopics.of(self.producer, topics)
        self._reroute = self.reply_topics.rerouter("router", topics.name("dead_letter"))
        self.router = BatchRouter(
            topics=RouterTopics(labels=topics.name("labels"),
                                llm_requests=topics.name("llm_requests"),
                                dead_letter=topics.name("dead_letter")),
            holder=self.holder, resolver=TaskResolver(self.holder, self.loader, self.guard),
            embedders=self.embedders,
            cache=EmbeddingCache(client, self.guard, prefix=prefix,
                                 ttl_s=settings.embedding_cache_ttl_s),
            deduper=self.deduper,
            guard=self.guard,
            limits=Limits(max_message_bytes=settings.limits.max_message_bytes,
                          max_text_chars=settings.limits.max_text_chars,
                          registry_max_staleness_s=settings.registry_max_staleness_s),
            rng=random.Random(settings.audit_seed),
            reply_topics=self.reply_topics,
            novelty_watch=NoveltyWatch(delta=settings.novelty_alarm_delta,
                                       rate_floor=settings.novelty_alarm_rate_floor,
                                       rate_factor=settings.novelty_alarm_rate_factor),
        )
        self._unsent_alarms: list[NoveltyAlarm] = []
        self.consumer: BatchConsumer | None = None

    def ready(self) -> bool:
        """Assigned at least one partition, and the models were loaded (or none are needed)."""
        return bool(self.consumer is not None and self.consumer.assigned and self.holder.loaded)

    def run(self) -> int:
        """Serve until stopped; returns the process exit code."""
        s = self.settings
        log.info("router starting: %s", masked_dump(s))
        if threading.current_thread() is threading.main_thread():
            self.stop.install()
        # the surrogate's matrix products are small: BLAS threads only spin against the
        # embedder's threads (measured 68 ms → 2 ms per 64-request batch on a busy machine)
        threadpool_limits(limits=1, user_api="blas")
        http = ServiceHTTP(s.http_host, s.http_port, healthy=self.heartbeat.healthy,
                           ready=self.ready, registry=self._metrics_registry).start()
        log.info("probes and metrics on http://%s:%d", s.http_host, http.port)
        feed = AnnouncementFeed(s.kafka, s.topics.name("models"))
        refresher = ModelRefresher(self.holder, self.loader, self.guard, announcements=feed.poll,
                                   interval_s=s.model_refresh_s)
        task_watch = TaskWatch(self.registry, lambda task: self._task_applied(task, refresher),
                               observe=self.metrics.redis.observe)
        task_watch.start()
        refresher.refresh()
        for state in self.holder.snapshot().values():  # warm every task's embedder up front
            self.embedders.get(state.task.embedder)
        refresher.start()
        self.consumer = BatchConsumer(s.kafka, s.group_id, [s.topics.name("requests")])
        try:
            self._loop(self.consumer, self.producer)
        finally:
            task_watch.stop()
            refresher.stop()
            self.consumer.close()
            self.producer.close()
            feed.close()
            http.stop()
            self.registry.close()
        log.info("router stopped")
        return 0

    def _task_applied(self, task: str, refresher: ModelRefresher) -> None:
        """A served task was applied again (``task apply``): re-read the registry now, so a
        changed label set or prompt closes its gate (``task_changed``) within about a second.
        A task not served yet is read on first sight anyway."""
        if task in self.holder.snapshot():
            refresher.wake()

    def _loop(self, consumer: BatchConsumer, producer: Producer) -> None:
        s = self.settings
        published = None
        while not self.stop.stopping:
            self.heartbeat.beat()
            if (served := self.holder.snapshot()) is not published:
                self.metrics.observe_models(served)
                published = served
            records = consumer.poll_batch(s.batch_max_size, s.batch_max_wait_ms / 1000.0)
            if not records:
                continue
            started = time.perf_counter()
            result = self.router.route(records)
            producer.deliver(result.outputs, reroute=self._reroute)
            self.deduper.mark(result.answered, result.dead_lettered)
            try:
                consumer.commit(records)
            except confluent_kafka.KafkaException as exc:  # e.g. partitions revoked meanwhile
                log.warning("commit failed (outputs delivered, re-delivery is deduped): %s",
                            exc)
            self.metrics.observe_batch(result, self.holder.snapshot(),
                                       time.perf_counter() - started, len(records))
            self._report_alarms(result.alarms)

    def _report_alarms(self, alarms: Sequence[NoveltyAlarm]) -> None:
        """Log and count new novelty alarms and write them to the registry for the trainer;
        what Redis refused is retried after the next batch."""
        watch = self.router.novelty_watch
        if watch is not None:
            self.metrics.observe_novelty(watch.rates())
        for alarm in alarms:
            log.warning("task %s version %s: novelty alarm: %s", alarm.task, alarm.version,
                        alarm.detail)
            self.metrics.observe_novelty({}, 1, alarm.task)
        pending, self._unsent_alarms = [*self._unsent_alarms, *alarms], []
        for alarm in pending:
            try:
                self.registry.raise_alarm(alarm.task, alarm.version, source=NOVELTY_SOURCE,
                                          detector=NOVELTY_DETECTOR, detail=alarm.detail,
                                          **alarm.statistics())
            except redis.RedisError as exc:
                log.warning("could not record the novelty alarm of %s in the registry: %s",
                            alarm.task, exc)
                self.metrics.redis.observe("novelty_alarm", False)
                self._unsent_alarms.append(alarm)
            else:
                self.metrics.redis.observe("novelty_alarm", True)


def main(settings: RouterSettings | None = None) -> int:
    """Entry point of ``tracer-stream router``."""
    return RouterService(settings or RouterSettings()).run()
