"""The trainer as a subprocess against the real broker and Redis: traces in → a certified version
published (registry + ModelAnnounce) → a running router answers with it; a failing candidate
leaves the last good version serving; SIGKILL mid-stream loses no trace and counts none twice
(snapshot and live monitor); a lost disk is rebuilt from the traces topic; a Redis stall does
not stop the trainer; a stale refit cannot promote; the refit worker dies with its parent."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import confluent_kafka
import httpx
import numpy as np
import pytest

from tests.integration.procs import MODEL_KEY, SIGNER_ENV, ServiceProcess, env_with, wait_until
from tests.integration.test_router_kit import Collector, Router
from tests.unit.training.synth import EMBEDDER, LABELS, traffic
from tracer_stream.bus import Producer
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.contracts import (
    ClassificationRequest,
    DeadLetter,
    ModelAnnounce,
    RoutedLabel,
    Trace,
    decode,
)
from tracer_stream.registry import FencedOut, Registry
from tracer_stream.stack import free_port
from tracer_stream.tasks import Task
from tracer_stream.training import TraceTable, TrainerState, Watch
from tracer_stream.training.fencing import Generation
from tracer_stream.training.publish import Announcer, make_current
from tracer_stream.training.snapshot import OFFSETS_FILE

TASK = "intents"


class TrainerHarness:
    """One isolated trainer deployment: own topics, Redis key prefix, state dir and group."""

    def __init__(self, tmp_path: Path, kafka: KafkaSettings, redis_settings: RedisSettings,
                 topics: TopicSettings, base_env: dict[str, str], **settings: str) -> None:
        prefix = f"it-{uuid.uuid4().hex[:8]}:"
        self.kafka, self.topics, self.tmp_path = kafka, topics, tmp_path
        self.registry = Registry.from_settings(redis_settings.model_copy(
            update={"key_prefix": prefix}))
        self.state = TrainerState(self.registry.client, prefix)
        self.store_root = tmp_path / "state" / "traces"
        self.port = free_port()
        self.env = env_with(base_env, **SIGNER_ENV, **{
            "TRACER_STREAM_TOPICS_PREFIX": topics.prefix,
            "TRACER_STREAM_REDIS_KEY_PREFIX": prefix,
            "TRACER_STREAM_STATE_DIR": str(tmp_path / "state"),
            "TRACER_STREAM_TRAINER_GROUP_ID": f"it-trainer-{uuid.uuid4().hex[:8]}",
            "TRACER_STREAM_TRAINER_ZOO": "fast",
            "TRACER_STREAM_TRAINER_REFIT_CHECK_INTERVAL_S": "1",
            **{f"TRACER_STREAM_TRAINER_{k.upper()}": v for k, v in settings.items()}})
        self.producer = Producer(kafka)
        self.procs: list[ServiceProcess] = []

    def register(self, **task: object) -> None:
        self.registry.put_task(Task(name=TASK, labels=LABELS, embedder=EMBEDDER, **task))

    def start(self) -> ServiceProcess:
        proc = ServiceProcess(["trainer", "--http-port", str(self.port)], self.env,
                              self.tmp_path / f"trainer-{len(self.procs)}.log")
        self.procs.append(proc)
        wait_until(lambda: self._probe("/readyz"), 120, 0.2,
                   what=f"trainer ready\n{proc.output()[-3000:]}")
        return proc

    def _probe(self, path: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def send(self, traces: Iterable[Trace]) -> int:
        n = 0
        for t in traces:
            self.producer.send(self.topics.name("traces"), t, key=t.request_id)
            n += 1
        self.producer.flush_or_raise()
        return n

    def stored(self) -> int:
        return len(TraceTable.load(self.store_root, TASK))

    def announcements(self) -> list[ModelAnnounce]:
        """Every announcement on the models topic so far: partitions assigned directly (no
        consumer group, no join wait), read from the beginning until a second passes idle."""
        name = self.topics.name("models")
        consumer = confluent_kafka.Consumer(self.kafka.common_config() | {
            "group.id": "unused", "enable.auto.commit": False})
        try:
            partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
            consumer.assign([confluent_kafka.TopicPartition(name, p,
                                                            confluent_kafka.OFFSET_BEGINNING)
                             for p in partitions])
            got: list[ModelAnnounce] = []
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < 1.0:
                msg = consumer.poll(0.1)
                if msg is not None and msg.error() is None:
                    got.append(decode(ModelAnnounce, msg.value()))
                    idle_since = time.monotonic()
            return sorted(got, key=lambda a: a.created_at)
        finally:
            consumer.close()

    def watch(self) -> Watch | None:
        raw = self.state.load_monitor(TASK)
        return Watch.from_json(raw) if raw else None

    def close(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.stop()
        self.producer.close()
        self.registry.close()


MakeHarness = Callable[..., TrainerHarness]


@pytest.fixture
def make_harness(tmp_path: Path, kafka: KafkaSettings, redis_settings: RedisSettings,
                 fresh_topics: TopicSettings, service_env: dict[str, str]
                 ) -> Iterator[MakeHarness]:
    """``make_harness(**trainer_settings)``: a harness; its trainers are stopped afterwards."""
    made: list[TrainerHarness] = []

    def make(**settings: str) -> TrainerHarness:
        made.append(TrainerHarness(tmp_path, kafka, redis_settings, fresh_topics, service_env,
                                   **settings))
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_certified_version_is_published_and_a_failing_candidate_changes_nothing(
        make_harness: MakeHarness) -> None:
    h = make_harness(refit_min_new_traces="1000")
    h.register()
    port = free_port()
    router = Router(ServiceProcess(["router"], env_with(
        h.env, TRACER_STREAM_ROUTER_HTTP_PORT=str(port), TRACER_STREAM_ROUTER_EMBEDDER=EMBEDDER,
        TRACER_STREAM_ROUTER_GROUP_ID=f"it-router-{uuid.uuid4().hex[:8]}"),
        h.tmp_path / "router.log"), port)
    h.procs.append(router.proc)
    proc = h.start()
    h.producer.send_raw(h.topics.name("traces"), b'{"schema_version": 1, "task": 7}')
    h.send(traffic(1200, seed=1, noise=0.01))
    wait_until(lambda: h.registry.current(TASK) == "v1", 90, 0.5,
               what=f"v1 published\n{proc.output()[-3000:]}")
    manifest = h.registry.manifest(TASK, "v1")
    assert manifest["certified"] and manifest["trainer"]["trigger"] == "new_traces"
    page = h.tmp_path / "v1.html"
    rendered = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", "model", "report",
                               TASK, "--html", str(page)], env=h.env, capture_output=True,
                              text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    assert page.read_text().startswith("<!DOCTYPE html>") and TASK in page.read_text()
    promoted = [a for a in h.announcements() if a.action == "promote"]
    assert [(a.task, a.version) for a in promoted] == [(TASK, "v1")]

    # a running router answers with the published version
    wait_until(router.ready, 60, what=f"router ready\n{router.proc.output()[-3000:]}")
    out = Collector(h.kafka, h.topics)
    try:
        asked = [ClassificationRequest(request_id=f"ask-{t.request_id}", task=TASK, text=t.text)
                 for t in traffic(30, seed=9)]
        for r in asked:
            h.producer.send(h.topics.name("requests"), r, key=r.request_id)
        h.producer.flush_or_raise()
        out.wait_for({r.request_id for r in asked}, timeout_s=60)
        labels = [m for _, m in out.messages if isinstance(m, RoutedLabel)]

        def trainer_letters() -> list[DeadLetter]:
            out.poll()
            return [m for _, m in out.messages
                    if isinstance(m, DeadLetter) and m.stage == "trainer"]

        wait_until(lambda: bool(trainer_letters()), 30, what="the bad trace's dead letter")
        [letter] = trainer_letters()
        assert letter.reason == "schema_violation" and letter.payload is not None
        assert letter.source_topic == h.topics.name("traces")
    finally:
        out.close()
    by_surrogate = [m for m in labels if m.source == "surrogate"]
    assert len(by_surrogate) >= 20 and {m.model_version for m in by_surrogate} == {"v1"}

    h.send(traffic(3000, seed=2, noise=1.0, prefix="noisy"))  # a teacher gone random
    wait_until(lambda: h.state.last_refit(TASK)["outcome"] == "not_certified", 90, 0.5,
               what=f"a rejected refit\n{proc.output()[-3000:]}")
    assert h.registry.current(TASK) == "v1" and h.registry.versions(TASK) == ["v1"]
    rejected = [e for e in h.registry.history(TASK) if e["action"] == "refit_rejected"]
    assert rejected and all(e["reason"] and e["gate_test"] >= 2 for e in rejected)
    wait_until(lambda: f'store_traces{{task="{TASK}"}} 4200.0' in h.metrics(), 30, 0.5,
               what="every trace stored")
    metrics = h.metrics()
    assert f'refits_total{{outcome="promoted",task="{TASK}"}} 1.0' in metrics
    assert re.search(rf'refits_total{{outcome="not_certified",task="{TASK}"}} [1-9]', metrics)

    manual = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", "trainer", "refit",
                             TASK, "--wait", "60"], env=h.env, capture_output=True, text=True,
                            timeout=120)
    assert manual.returncode == 0, manual.stderr
    assert "requested from the running trainer" in manual.stdout
    assert "not_certified: v1" in manual.stdout
    assert h.state.last_refit(TASK)["trigger"] == "manual"


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
        make_harness: MakeHarness) -> None:
    h = make_harness(refit_min_new_traces="1000000")
    h.register()
    h.registry.add_version(TASK, b"not loaded by the trainer", {"alpha": 0.95})
    h.registry.set_current(TASK, "v1")
    rng = np.random.default_rng(0)
    traces = [dataclasses.replace(
        t, model_version="v1", audit=i % 3 == 0, gate_accepted=i % 3 == 0,
        surrogate_label=t.label if rng.random() > 0.02 else "other")
        for i, t in enumerate(traffic(4000, seed=3))]
    audited = sum(t.audit for t in traces)
    first = h.start()

    def produce() -> None:
        for i in range(0, len(traces), 100):
            h.send(traces[i:i + 100])
            time.sleep(0.05)

    sender = threading.Thread(target=produce)
    sender.start()
    wait_until(lambda: h.stored() >= 1000, 60, 0.05, what="traces stored before the kill")
    first.kill()
    killed_at = h.stored()
    sender.join()
    second = h.start()
    wait_until(lambda: h.stored() == 4000, 90, 0.5,
               what=f"all traces stored\n{second.output()[-3000:]}")
    time.sleep(2)  # nothing more may arrive
    table = TraceTable.load(h.store_root, TASK)
    assert sorted(table.request_ids) == sorted(t.request_id for t in traces)
    assert table.seq.tolist() == list(range(1, 4001))
    watch = h.watch()
    assert watch is not None and watch.monitor.n == audited and watch.applied_seq == 4000
    redelivered = re.search(r"traces_duplicate_total (\d+)", h.metrics())
    assert killed_at < 4000 and redelivered is not None
    print(f"killed after {killed_at} stored traces; {redelivered.group(1)} re-delivered after "
          "the restart and dropped as duplicates")


def test_a_lost_disk_is_rebuilt_from_the_compacted_traces_topic(
        make_harness: MakeHarness, kafka: KafkaSettings) -> None:
    h = make_harness(refit_min_new_traces="1000000")
    h.register()
    config = _topic_config(kafka, h.topics.name("traces"))
    assert config.get("cleanup.policy") == "compact", config
    traces = list(traffic(1500, seed=4))
    first = h.start()
    h.send(traces[:1000])
    wait_until(lambda: h.stored() == 1000, 60, 0.2, what=f"stored\n{first.output()[-3000:]}")
    first.stop()
    assert (h.store_root / OFFSETS_FILE).exists()
    shutil.rmtree(h.store_root)  # the trainer's disk is gone
    h.send(traces[1000:])  # and traffic went on meanwhile
    second = h.start()
    wait_until(lambda: h.stored() == 1500, 60, 0.2, what=f"rebuilt\n{second.output()[-3000:]}")
    table = TraceTable.load(h.store_root, TASK)
    assert sorted(table.request_ids) == sorted(t.request_id for t in traces)
    assert table.seq.tolist() == list(range(1, 1501))
    X, have = table.embeddings(traces[0].embedder_id or "", len(traces[0].embedding or []))
    assert have.all() and X.any()


def _topic_config(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient(kafka.common_config())
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return {name: entry.value for name, entry in future.result(timeout=10).items()}


def test_a_redis_stall_is_ridden_out_not_crash_looped(
        make_harness: MakeHarness, own_redis: tuple[subprocess.Popen[bytes], str]) -> None:
    redis_proc, url = own_redis
    h = make_harness(refit_min_new_traces="1000000")
    h.env["TRACER_STREAM_REDIS_URL"] = url
    h.registry = Registry.from_settings(RedisSettings(url=url, key_prefix=h.state.prefix))
    h.state = TrainerState(h.registry.client, h.state.prefix)
    h.register()
    proc = h.start()
    traces = list(traffic(600, seed=5))
    h.send(traces[:300])
    wait_until(lambda: h.stored() == 300, 60, 0.2, what=f"stored\n{proc.output()[-3000:]}")
    os.kill(redis_proc.pid, signal.SIGSTOP)
    try:
        h.send(traces[300:])  # stored on disk; the live monitor waits for Redis
        failing = re.compile(r'redis_errors_total{operation="[a-z_]+"} [1-9]')
        wait_until(lambda: bool(failing.search(h.metrics()))
                   and "tracer_stream_trainer_redis_up 0.0" in h.metrics(), 30, 0.2,
                   what=f"Redis errors counted\n{proc.output()[-3000:]}")
        assert proc.alive(), proc.output()[-3000:]
        assert h._probe("/healthz"), "the event loop stalled"
    finally:
        os.kill(redis_proc.pid, signal.SIGCONT)
    h.state.clear_beat()
    wait_until(h.state.trainer_alive, 30, 0.2, what=f"heartbeat back\n{proc.output()[-3000:]}")
    wait_until(lambda: h.stored() == 600, 30, 0.2, what="every trace stored")
    wait_until(lambda: "tracer_stream_trainer_redis_up 1.0" in h.metrics(), 30, 0.2,
               what="redis_up back to 1")
    assert proc.alive() and "Traceback" not in proc.output()


def test_a_refit_of_an_older_trainer_generation_cannot_promote(
        kafka: KafkaSettings, redis_settings: RedisSettings, fresh_topics: TopicSettings,
        tmp_path: Path) -> None:
    from tracer_stream.config import TrainerSettings
    from tracer_stream.training import TraceSnapshot
    from tracer_stream.training.refit import Refitter

    prefix = f"it-{uuid.uuid4().hex[:8]}:"
    registry = Registry.from_settings(redis_settings.model_copy(update={"key_prefix": prefix}))
    state = TrainerState(registry.client, prefix)
    announcer = Announcer(kafka, fresh_topics)
    try:
        registry.put_task(Task(name=TASK, labels=LABELS, embedder=EMBEDDER))
        TraceSnapshot(tmp_path / "traces").append(traffic(1200, seed=1, noise=0.01))
        generations = Generation(registry.client, prefix)
        old = generations.take()
        settings = TrainerSettings(zoo="fast", state_dir=tmp_path,
                                   model_signing_key=MODEL_KEY.seed_b64)
        refitter = Refitter(settings, registry, state, announcer, tmp_path / "traces")
        generations.take()  # a new trainer started while the old one's refit ran
        out = refitter.refit(TASK, "new_traces", old)
        assert out.outcome == "fenced" and registry.current(TASK) is None
        assert out.version is None or out.version in registry.versions(TASK)
        registry.add_version(TASK, b"blob", {"alpha": 0.95})
        [version] = registry.versions(TASK)[-1:]
        with pytest.raises(FencedOut):  # the atomic check itself, without the early one
            make_current(registry, announcer, TASK, version, action="promote", reason="t",
                         fence=generations.fence(old))
        assert registry.current(TASK) is None
        assert not [a for a in _history_actions(registry) if a == "promote"]
        newest = generations.fence(generations.current())
        make_current(registry, announcer, TASK, version, action="promote", reason="t",
                     fence=newest)
        assert registry.current(TASK) == version
    finally:
        announcer.close()
        registry.close()


def _history_actions(registry: Registry) -> list[str]:
    return [str(e["action"]) for e in registry.history(TASK)]


PARENT = """
import os, sys, time, logging
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from tracer_stream.training.jobs import init_worker
pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                           initializer=init_worker, initargs=(os.getpid(), logging.INFO))
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(120)
"""


def test_the_refit_worker_dies_with_its_parent() -> None:
    with subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                          env=env_with(dict(os.environ))) as parent:
        try:
            assert parent.stdout is not None
            worker = int(parent.stdout.readline())
            assert _running(worker)
            parent.kill()  # SIGKILL: no cleanup code runs in the parent
            parent.wait(10)
            wait_until(lambda: not _running(worker), 10, 0.05, what="the worker to die")
        finally:
            if parent.poll() is None:
                parent.kill()


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status
