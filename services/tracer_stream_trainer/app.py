"""The trainer as a faust-streaming app.

* task ``recover``: catches the snapshot up with the traces topic and replays what the live
  monitor missed (:meth:`TrainerRuntime.recover`); the agent waits for it.
* agent ``store_traces``: consumes the traces topic in batches (``noack_take``), hands each batch
  to :meth:`TrainerRuntime.process` in a worker thread (decode → snapshot part with fsync → live
  monitor → drift watch) and acknowledges the events only afterwards, so faust commits only
  offsets whose traces are durable (at-least-once; the snapshot dedupes re-deliveries).
* timer ``beat`` (1 s): liveness for ``/healthz`` and the Redis heartbeat that tells
  ``tracer-stream trainer refit`` a trainer is running.

A Redis outage never stops the app: every Redis call backs off and is counted
(``tracer_stream_trainer_redis_errors_total``); a batch waits until Redis is back.
* timer ``check_refits`` (``refit_check_interval_s``): acts on the alarms routers raised
  (:meth:`TrainerRuntime.poll_router_alarms`), evaluates the refit triggers and runs the
  due refits in a spawned worker process (the fit never blocks the event loop).

No faust tables: durable state lives in the traces topic, its snapshot and Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from prometheus_client import CollectorRegistry

from tracer_stream.config import TrainerSettings
from tracer_stream.config.kafka_clients import faust_options
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.extras import needs_extra
from tracer_stream_trainer.runtime import TrainerRuntime

with needs_extra("trainer", "the trainer service"):
    import faust
    from faust.types import StreamT

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WITHIN_S = 0.5


def build_app(settings: TrainerSettings, runtime: TrainerRuntime) -> faust.App:
    """The faust app wired to ``runtime``."""
    kafka = settings.kafka
    app = faust.App(
        settings.group_id,
        **faust_options(kafka.consumer_config(settings.group_id) | kafka.producer_config()),
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        store="memory://",
        datadir=str(settings.state_dir / "faust"),
        web_enabled=False,
        autodiscover=False,
    )
    traces = app.topic(settings.topics.name("traces"), value_serializer="raw",
                       key_serializer="raw", partitions=settings.topics.partitions)

    @app.agent(traces)
    async def store_traces(stream: StreamT[Any]) -> None:
        await runtime.recovered.wait()
        batches = cast(faust.Stream[Any], stream).noack_take(BATCH_MAX, within=BATCH_WITHIN_S)
        async for events in batches:
            try:
                await asyncio.to_thread(runtime.process, [e.value for e in events],
                                        [Source(e.message.topic, e.message.partition,
                                                e.message.offset) for e in events])
            except InterruptedError:  # closing while Redis was away: not acknowledged
                return
            for event in events:
                await stream.ack(event)

    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        runtime.assigned = any(tp.topic == traces.get_topic_name() for tp in assigned)

    # mypy cannot match an async def against the union of callables faust's stub declares
    app.on_partitions_assigned.connect(cast(Any, on_assigned))

    @app.task
    async def recover() -> None:
        try:
            await asyncio.to_thread(runtime.recover)
        except InterruptedError:
            return
        runtime.recovered.set()
        log.info("trainer recovered: %s", {t: runtime.store.count(t)
                                           for t in runtime.store.tasks()})

    @app.timer(interval=1.0)
    async def beat() -> None:
        await asyncio.to_thread(runtime.beat)

    @app.timer(interval=settings.refit_check_interval_s)
    async def check_refits() -> None:
        if not runtime.recovered.is_set():
            return
        await asyncio.to_thread(runtime.poll_router_alarms)  # even while a refit runs
        if runtime.refitting:
            return
        due = await asyncio.to_thread(runtime.due_refits)
        if due:
            runtime.refits = app.add_future(runtime.run_refits(due))

    return app


def run(settings: TrainerSettings) -> int:
    """Run the trainer until SIGTERM/SIGINT; returns the exit code."""
    from tracer_stream.bus import ensure_topics
    from tracer_stream.obs import ServiceHTTP

    settings.verify_keys()  # no signing key: refuse to start, naming the setting
    ensure_topics(settings.kafka, settings.topics)
    metrics = CollectorRegistry()
    runtime = TrainerRuntime(settings, metrics)
    app = build_app(settings, runtime)
    http = ServiceHTTP(settings.http_host, settings.http_port, healthy=runtime.healthy,
                       ready=runtime.ready, registry=metrics).start()
    log.info("trainer: probes and metrics on http://%s:%d, store %s", settings.http_host,
             http.port, runtime.store.root)
    worker = faust.Worker(app, loglevel=logging.getLogger().getEffectiveLevel(), quiet=True,
                          override_logging=False, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        http.stop()
        runtime.close()
    return 0
