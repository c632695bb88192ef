"""Everything the trainer app drives, independent of faust: the store and its watchers, the refit
scheduler and its process pool, metrics and probes."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import redis
from prometheus_client import CollectorRegistry

from tracer_stream.bus import Producer
from tracer_stream.config import TrainerSettings
from tracer_stream.contracts import DeadLetter
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.errors import BusError
from tracer_stream.learn import n_min, spend_delta
from tracer_stream.obs import Heartbeat
from tracer_stream.registry import Registry
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.guard import LiveGuard
from tracer_stream.training.ingest import Ingest, IngestReport
from tracer_stream.training.publish import Announcer
from tracer_stream.training.refit import RefitOutcome
from tracer_stream.training.schedule import refit_trigger
from tracer_stream.training.state import TrainerState
from tracer_stream.training.store import TraceStore
from tracer_stream_trainer.jobs import init_worker, run_refit, warm_up
from tracer_stream_trainer.metrics import TrainerMetrics

log = logging.getLogger(__name__)

DEAD_LETTER_ATTEMPTS = 3


class TrainerRuntime:
    """State and actions of one trainer process."""

    def __init__(self, settings: TrainerSettings, metrics_registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = Registry.from_settings(settings.redis)
        self.state = TrainerState(self.registry.client, settings.redis.key_prefix)
        self.announcer = Announcer(settings.kafka, settings.topics)
        self.producer = Producer(settings.kafka)
        self.store = TraceStore(settings.state_dir / "traces")
        self.guard = LiveGuard(self.registry, self.state, self.announcer,
                               suspicion_cap=settings.drift_audit_rate)
        alarms = AlarmResponse(self.registry, self.state, self.announcer,
                               audit_rate=settings.drift_audit_rate,
                               ttl_s=settings.drift_audit_ttl_s,
                               close_gate_on_router_alarm=settings.router_alarm_close_gate)
        self.alarms = alarms
        self.ingest = Ingest(self.store, self.guard, self.registry, self.state, alarms,
                             max_bytes=settings.limits.max_message_bytes,
                             drift_cooldown_s=settings.drift_cooldown_s,
                             calibration_fraction=settings.calibration_fraction)
        self.metrics = TrainerMetrics(metrics_registry)
        self.heartbeat = Heartbeat(max_silence_s=30.0)
        self.recovered = asyncio.Event()
        self.assigned = False
        self.refits: asyncio.Future[list[RefitOutcome]] | None = None
        self._lock = threading.Lock()  # ingest and gauge refreshes run in worker threads
        self._started_at = time.time()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        """A one-process pool for refits, warmed up (imports, refitter) right away."""
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(), logging.getLogger().getEffectiveLevel()))
        pool.submit(warm_up, self.settings)
        return pool

    @property
    def refitting(self) -> bool:
        return self.refits is not None and not self.refits.done()

    # probes ------------------------------------------------------------------------------
    def healthy(self) -> bool:
        return self.heartbeat.healthy()

    def ready(self) -> bool:
        return self.recovered.is_set() and self.assigned

    # ingest (called in a worker thread; one batch at a time) ------------------------------
    def recover(self) -> None:
        """Replay to the live monitor what a crash kept from it, free stale refit locks."""
        for task in self.store.tasks():
            self.state.unlock(task)
        with self._lock:
            self.metrics.observe_ingest(self.ingest.recover())
            self._refresh_gauges()

    def process(self, raws: Sequence[bytes], sources: Sequence[Source] | None = None
                ) -> IngestReport:
        with self._lock:
            report = self.ingest.process(raws, sources)
        self._publish_dead_letters(report.dead_letters)
        self.metrics.observe_ingest(report)
        for task in report.stored:
            self.metrics.store_size.labels(task).set(self.store.count(task))
            self.metrics.observe_epoch(task, self.state.epoch(task),
                                       self.registry.audit_boost(task))
        return report

    def _publish_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Rejected trace messages to the dead-letter topic, acknowledged before the batch is
        acknowledged; after a few failed attempts the letters stay in the log (warning above)."""
        if not letters:
            return
        topic = self.settings.topics.name("dead_letter")
        for attempt in range(1, DEAD_LETTER_ATTEMPTS + 1):
            for letter in letters:
                self.producer.send(topic, letter, key=letter.request_id)
            try:
                self.producer.flush_or_raise()
                return
            except BusError as exc:
                log.error("dead letters not delivered (attempt %d/%d): %s", attempt,
                          DEAD_LETTER_ATTEMPTS, exc)
                time.sleep(attempt)

    def refresh_gauges(self) -> None:
        with self._lock:
            self._refresh_gauges()

    def _refresh_gauges(self) -> None:
        for task in self.store.tasks():
            self.metrics.store_size.labels(task).set(self.store.count(task))
            self.metrics.gate_open.labels(task).set(int(self.registry.gate(task)["open"]))
            self.metrics.observe_epoch(task, self.state.epoch(task),
                                       self.registry.audit_boost(task))
            watch = self.guard.watch(task)
            if watch is not None:
                self.metrics.observe_watch(task, watch.summary())

    # alarms raised by routers ------------------------------------------------------------
    def poll_router_alarms(self) -> int:
        """Act on the alarms routers wrote to the registry (:meth:`AlarmResponse.
        router_alarms`); returns how many were for a current version."""
        acted = 0
        try:
            for task in (t.name for t in self.registry.list_tasks()):
                with self._lock:  # the epoch starts after the last trace stored
                    acted += self.alarms.router_alarms(task, self.store.count(task))
        except redis.RedisError as exc:  # retried at the next check
            log.warning("could not read the routers' alarms: %s", exc)
        return acted

    # refits ------------------------------------------------------------------------------
    def due_refits(self) -> list[tuple[str, str]]:
        """(task, trigger) of every task that should be refit now."""
        with self._lock:  # the ingest thread may be adding a task
            counts = {task: self.store.count(task) for task in self.store.tasks()}
        requests = self.state.refit_requests()
        now = time.time()
        due = []
        for task in sorted(set(counts) | set(requests)):
            last = self.state.last_refit(task)
            trigger = refit_trigger(
                requests.get(task), new_traces=counts.get(task, 0) - last["seq"],
                since_refit_s=now - max(last["at"], self._started_at),
                last_outcome=last["outcome"],
                min_new_traces=self.settings.refit_min_new_traces,
                interval_s=self.settings.refit_interval_s,
                drift_cooldown_s=self.settings.drift_cooldown_s,
                epoch_ready=self._epoch_ready(task),
                epoch_urgent=self._epoch_urgent(task, last["at"]))
            if trigger is not None:
                due.append((task, trigger))
        return due

    def _epoch_urgent(self, task: str, last_refit_at: float) -> bool:
        """True while the pending epoch was started by an alarm that closes the gate (the live
        monitor, a router) and no refit ran since: its first refit skips the cooldown."""
        epoch = self.state.epoch(task)
        trigger = str(epoch["trigger"])
        return bool(epoch["pending"]) and last_refit_at < float(epoch["at"]) and (
            trigger == "monitor" or trigger.startswith("router:"))

    def _epoch_ready(self, task: str) -> str | None:
        """The alarm trigger of the task's pending calibration epoch once it holds enough
        held-out traces for the next gate test (n_min at δₖ₊₁), else None."""
        epoch = self.state.epoch(task)
        if not epoch["pending"]:
            return None
        definition = self.registry.get_task(task)
        if definition is None:
            return None
        k = self.state.gate_tests(task) + 1
        needed = n_min(definition.alpha, spend_delta(definition.delta, k))
        return str(epoch["trigger"]) if epoch["n_cal"] >= needed else None

    async def run_refits(self, due: list[tuple[str, str]]) -> list[RefitOutcome]:
        """Run the due refits one after the other in the worker process."""
        loop = asyncio.get_running_loop()
        outcomes = []
        for task, trigger in due:
            self.state.clear_refit_request(task)
            try:
                outcome = await loop.run_in_executor(self._pool, run_refit, self.settings, task,
                                                     trigger)
            except BrokenProcessPool as exc:  # the worker died (OOM kill...): start a new one
                log.error("refit worker died during the refit of %s: %s", task, exc)
                self._pool = self._new_pool()
                outcome = RefitOutcome(task, trigger, "failed", f"refit worker died: {exc}")
            self.metrics.observe_refit(outcome)
            outcomes.append(outcome)
        await asyncio.to_thread(self.refresh_gauges)
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.announcer.close()
        self.producer.close()
        self.state.clear_beat()
        self.registry.close()
