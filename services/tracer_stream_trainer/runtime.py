"""Everything the trainer app drives, independent of faust: the library's pieces wired to one
process, Redis failures turned into backoff and metrics, probes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from tracer_stream.bus import Producer
from tracer_stream.config import TrainerSettings
from tracer_stream.contracts import Outbound
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.obs import Heartbeat
from tracer_stream.registry import Registry
from tracer_stream.training.backoff import RedisCalls
from tracer_stream.training.catchup import catch_up
from tracer_stream.training.fencing import Generation
from tracer_stream.training.ingest import Ingest, IngestReport
from tracer_stream.training.jobs import RefitPool
from tracer_stream.training.publish import Announcer
from tracer_stream.training.refit import RefitOutcome
from tracer_stream.training.schedule import RefitScheduler
from tracer_stream.training.snapshot import TraceSnapshot
from tracer_stream.training.state import TrainerState
from tracer_stream_trainer.metrics import TrainerMetrics

log = logging.getLogger(__name__)


class TrainerRuntime:
    """State and actions of one trainer process."""

    def __init__(self, settings: TrainerSettings, metrics_registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = Registry.from_settings(settings.redis)
        self.state = TrainerState(self.registry.client, settings.redis.key_prefix)
        self.announcer = Announcer(settings.kafka, settings.topics)
        self.producer = Producer(settings.kafka)
        self.store = TraceSnapshot(settings.state_dir / "traces")
        self.ingest = Ingest.from_settings(settings, self.store, self.registry, self.state,
                                           self.announcer)
        self.guard, self.alarms = self.ingest.guard, self.ingest.alarms
        self.scheduler = RefitScheduler(self.state, self.registry, settings.refit_min_new_traces,
                                        settings.refit_interval_s, settings.drift_cooldown_s)
        self.generations = Generation(self.registry.client, settings.redis.key_prefix)
        self.generation: int | None = None
        self.metrics = TrainerMetrics(metrics_registry)
        self.heartbeat = Heartbeat(max_silence_s=30.0)
        self.recovered = asyncio.Event()
        self.assigned = False
        self.refits: asyncio.Future[list[RefitOutcome]] | None = None
        self.closing = threading.Event()
        self.redis = RedisCalls(self.metrics.observe_redis, self.closing)
        self._lock = threading.Lock()  # ingest and gauge refreshes run in worker threads
        self.pool = RefitPool(settings)

    @property
    def refitting(self) -> bool:
        return self.refits is not None and not self.refits.done()

    def healthy(self) -> bool:
        return self.heartbeat.healthy()

    def ready(self) -> bool:
        return self.recovered.is_set() and self.assigned

    # ingest (in a worker thread; one batch at a time) -------------------------------------
    def recover(self) -> None:
        """Take a generation, catch the snapshot up with the traces topic, replay to the live
        monitor what a crash kept from it, free stale refit locks."""
        self.redis.until_done("recover", self._recover)

    def _recover(self) -> bool:
        self.generation = self.generation or self.generations.take()
        topic = self.settings.topics.name("traces")
        read = catch_up(self.settings.kafka, topic, self.settings.group_id,
                        self.store.offsets.get(topic, {}), self._process)
        log.info("trainer generation %d; snapshot caught up with %s (%d messages read)",
                 self.generation, topic, read)
        for task in self.store.tasks():
            self.state.unlock(task)
        with self._lock:
            self.metrics.observe_ingest(self.ingest.recover())
        self.refresh_gauges()
        return True

    def process(self, raws: Sequence[bytes], sources: Sequence[Source]) -> IngestReport:
        return self.redis.until_done("ingest", self._process, raws, sources)

    def _process(self, raws: Sequence[bytes], sources: Sequence[Source]) -> IngestReport:
        """Store and watch; then deliver the rejects' dead letters (the bus's one delivery
        policy: it raises when the broker keeps failing, so the batch is not acknowledged), and
        only then move the snapshot's covered offsets."""
        with self._lock:
            report = self.ingest.process(raws, sources)
        topic = self.settings.topics.name("dead_letter")
        self.producer.deliver([Outbound(topic, letter, letter.request_id)
                               for letter in report.dead_letters])
        with self._lock:
            self.ingest.cover(sources)
        self.metrics.observe_ingest(report)
        for task in report.stored:
            self.metrics.store_size.labels(task).set(self.store.count(task))
            self.redis.run("gauges", self.metrics.observe_task, task, self.registry, self.state)
        return report

    def refresh_gauges(self) -> None:
        with self._lock:
            tasks = self.store.tasks()
        for task in tasks:
            self.metrics.store_size.labels(task).set(self.store.count(task))
            self.redis.run("gauges", self.metrics.observe_task, task, self.registry, self.state,
                           self.guard)

    # timers -------------------------------------------------------------------------------
    def beat(self) -> None:
        self.heartbeat.beat()
        self.redis.run("heartbeat", self.state.beat)

    def poll_router_alarms(self) -> None:
        """Act on the alarms routers wrote to the registry (:meth:`AlarmResponse.
        router_alarms`); the epoch starts after the last trace stored."""
        def poll() -> None:
            for task in (t.name for t in self.registry.list_tasks()):
                with self._lock:
                    self.alarms.router_alarms(task, self.store.count(task))
        self.redis.run("router_alarms", poll)

    def due_refits(self) -> list[tuple[str, str]]:
        with self._lock:  # the ingest thread may be adding a task
            counts = {task: self.store.count(task) for task in self.store.tasks()}
        return self.redis.call("schedule", self.scheduler.due, counts, time.time()) or []

    async def run_refits(self, due: list[tuple[str, str]]) -> list[RefitOutcome]:
        """Run the due refits one after the other in the worker process."""
        outcomes = []
        for task, trigger in due:
            if not self.redis.run("schedule", self.state.clear_refit_request, task):
                continue  # Redis is away: the next check retries
            outcome = await self.pool.run(task, trigger, self.generation)
            self.metrics.observe_refit(outcome)
            outcomes.append(outcome)
        await asyncio.to_thread(self.refresh_gauges)
        return outcomes

    def close(self) -> None:
        self.closing.set()
        self.pool.close()
        self.announcer.close()
        self.producer.close()
        self.redis.run("heartbeat", self.state.clear_beat)
        self.registry.close()
