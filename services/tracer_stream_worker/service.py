"""The LLM worker: consume ``llm_requests`` in batches, label them concurrently with the
teacher, publish labels, traces and dead letters, then commit.

Every consumed record ends in exactly one of: a trace (plus the requester's label when
``answer_requester``), or one dead letter. Offsets are committed only after every output of
the batch is acknowledged (at-least-once). SIGTERM lets the current batch finish, publishes
and commits it, and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import confluent_kafka

from tracer_stream.bus import BatchConsumer, Producer
from tracer_stream.bus.reply_topics import ReplyTopics
from tracer_stream.config import WorkerSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, decode, now
from tracer_stream.errors import BusError, ContractError
from tracer_stream.llm import Teacher, TeacherError, build_teacher
from tracer_stream.obs import Heartbeat, ServiceHTTP, StopFlag
from tracer_stream.registry import Registry, TaskWatch
from tracer_stream.tasks import Task
from tracer_stream_worker.metrics import WorkerMetrics
from tracer_stream_worker.outputs import (
    Origin,
    Output,
    answered,
    dead_letter,
    failure_reason,
    llm_failure,
)
from tracer_stream_worker.tasks import RegistryUnavailable, TaskCache

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 3


class _Stopping(Exception):
    """Stop requested while a batch could not be processed; it stays uncommitted."""


class WorkerService:
    """One worker process. Collaborators can be injected (tests); by default everything is
    built from ``settings``."""

    def __init__(self, settings: WorkerSettings, *, teacher: Teacher | None = None,
                 registry: Registry | None = None, stop: StopFlag | None = None) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.source_topic = settings.topics.name("llm_requests")
        self.teacher = teacher or build_teacher(settings)
        self.registry = registry or Registry.from_settings(settings.redis)
        self.tasks = TaskCache(self.registry, settings.task_refresh_s)
        self.stop = stop or StopFlag()
        self.metrics = WorkerMetrics()
        self.heartbeat = Heartbeat()
        self.registry_ok = True
        self.consumer = BatchConsumer(settings.kafka, settings.group_id, [self.source_topic])
        self.producer = Producer(settings.kafka)
        self.reply_topics = ReplyTopics.of(self.producer, settings.topics)

    def ready(self) -> bool:
        return bool(self.consumer.assigned) and self.registry_ok

    def run(self) -> int:
        """The main loop; returns the exit code."""
        http = ServiceHTTP(self.settings.http_host, self.settings.http_port,
                           healthy=self.heartbeat.healthy, ready=self.ready,
                           registry=self.metrics.registry).start()
        log.info("worker: teacher %s, consuming %s as group %s, probes on http://%s:%d",
                 self.teacher.name, self.source_topic, self.settings.group_id,
                 self.settings.http_host, http.port)
        task_watch = TaskWatch(self.registry, self.tasks.invalidate).start()
        try:
            with asyncio.Runner() as runner:
                try:
                    self._loop(runner)
                finally:
                    runner.run(self.teacher.aclose())
        finally:
            task_watch.stop()
            self.consumer.close()
            self.producer.close()
            self.registry.close()
            http.stop()
        log.info("worker stopped")
        return 0

    def _loop(self, runner: asyncio.Runner) -> None:
        wait_s = self.settings.batch_max_wait_ms / 1000.0
        while not self.stop.stopping:
            self.heartbeat.beat()
            batch = self.consumer.poll_batch(self.settings.batch_max_size, wait_s)
            if not batch:
                continue
            self.metrics.consumed.inc(len(batch))
            try:
                outputs = self._process(runner, batch)
            except _Stopping:
                log.info("stopping with %d unprocessed request(s); they will be redelivered",
                         len(batch))
                return
            self._publish(outputs)
            self._commit(batch)

    def _process(self, runner: asyncio.Runner, batch: Sequence[confluent_kafka.Message]
                 ) -> list[Output]:
        """Decode and resolve synchronously, then label every valid request concurrently."""
        slots: list[list[Output] | tuple[LLMRequest, Task, Origin]] = []
        for record in batch:
            origin = Origin(record.topic(), record.partition(), record.offset(), record.value())
            slots.append(self._prepare(record.value(), origin))
        jobs = [slot for slot in slots if isinstance(slot, tuple)]
        labelled = iter(runner.run(self._label_all(jobs)))
        outputs: list[Output] = []
        for slot in slots:
            outputs += next(labelled) if isinstance(slot, tuple) else slot
        return outputs

    def _prepare(self, raw: bytes | None, origin: Origin
                 ) -> list[Output] | tuple[LLMRequest, Task, Origin]:
        limits = self.settings.limits
        try:
            request = decode(LLMRequest, raw or b"", max_bytes=limits.max_message_bytes)
        except ContractError as exc:
            return [dead_letter(exc.reason, exc.message, origin=origin, topics=self.topics,
                                field=exc.field)]
        if len(request.text) > limits.max_text_chars:
            return [dead_letter("too_large", f"text has {len(request.text)} characters, "
                                f"the limit is {limits.max_text_chars}", origin=origin,
                                topics=self.topics, request_id=request.request_id,
                                task=request.task, field="text")]
        task = self._task(request.task)
        if task is None:
            return [dead_letter("unknown_task", f"task {request.task!r} is not registered "
                                "(tracer-stream task apply FILE)", origin=origin,
                                topics=self.topics, request_id=request.request_id,
                                task=request.task, field="task")]
        if request.answer_requester and (refused := self.reply_topics.refusal(
                request.reply_topic)):
            return [dead_letter(*refused, origin=origin, topics=self.topics,
                                request_id=request.request_id, task=request.task,
                                field="reply_topic")]
        return request, task, origin

    def _task(self, name: str) -> Task | None:
        """The task; while Redis is down and the task is not cached, wait (not ready)."""
        while True:
            try:
                task = self.tasks.get(name)
                self.registry_ok = True
                return task
            except RegistryUnavailable as exc:
                if self.registry_ok:
                    log.error("%s; waiting for Redis", exc)
                self.registry_ok = False
            if self.stop.wait(1.0):
                raise _Stopping
            self.heartbeat.beat()

    async def _label_all(self, jobs: Sequence[tuple[LLMRequest, Task, Origin]]
                         ) -> list[list[Output]]:
        ticker = asyncio.create_task(self._tick())
        try:
            return await asyncio.gather(*(self._label(*job) for job in jobs))
        finally:
            ticker.cancel()

    async def _tick(self) -> None:
        """Liveness while a long batch is in flight: the event loop is still turning."""
        while True:
            self.heartbeat.beat()
            await asyncio.sleep(1.0)

    async def _label(self, request: LLMRequest, task: Task, origin: Origin) -> list[Output]:
        started_at = now()
        try:
            prompt = task.render_prompt(request.text)
        except (KeyError, IndexError, ValueError) as exc:
            return [dead_letter("invalid_task", f"cannot render the prompt of task "
                                f"{task.name!r}: {exc!r}", origin=origin, topics=self.topics,
                                request_id=request.request_id, task=task.name)]
        self.metrics.in_flight.inc()
        try:
            answer = await self.teacher.label(prompt, task.label_names, text=request.text)
        except TeacherError as exc:
            self.metrics.failed(task.name, exc, failure_reason(exc))
            log.warning("request %s (%s): %s", request.request_id, task.name, exc)
            return [llm_failure(request, exc, origin=origin, topics=self.topics)]
        except Exception as exc:  # a bug must not drop the request nor stop the worker
            log.exception("request %s (%s): unexpected error", request.request_id, task.name)
            return [dead_letter("llm_failure", f"[internal_error] {type(exc).__name__}: {exc}",
                                origin=origin, topics=self.topics,
                                request_id=request.request_id, task=task.name)]
        finally:
            self.metrics.in_flight.dec()
        self.metrics.answered(task.name, answer)
        return answered(request, answer, teacher=self.teacher.name, topics=self.topics,
                        started_at=started_at)

    def _publish(self, outputs: Sequence[Output]) -> None:
        """Produce and wait for acknowledgement; re-send everything if delivery failed
        (duplicates are allowed, losses are not)."""
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            for out in outputs:
                self.producer.send(out.topic, out.message, key=out.key)
            try:
                self.producer.flush_or_raise()
                break
            except BusError as exc:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.error("publishing failed (%s), attempt %d/%d", exc, attempt,
                          PUBLISH_ATTEMPTS)
                self.stop.wait(1.0)
        for out in outputs:
            self.metrics.produced.labels(out.kind).inc()
            if isinstance(out.message, DeadLetter):
                self.metrics.dead_letters.labels(out.message.reason).inc()

    def _commit(self, batch: Sequence[confluent_kafka.Message]) -> None:
        try:
            self.consumer.commit(batch)
        except confluent_kafka.KafkaException as exc:
            log.warning("commit failed (%s); the batch may be redelivered", exc)


def run(settings: WorkerSettings) -> int:
    """Build the worker from settings, install the signal handlers, run until stopped."""
    return WorkerService(settings, stop=StopFlag().install()).run()


__all__ = ["WorkerService", "run"]
