"""Shared helpers of the router and client integration tests (this module holds no tests):
a synthetic separable task, a certified model fitted on it with the ``hash:256`` embedder,
a router subprocess pointed at fresh topics and a private Redis namespace, and a collector
of everything the router (and worker) produced."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import orjson
import pytest

from tests.integration.procs import MODEL_KEY, ServiceProcess, env_with, wait_until
from tracer_stream.bus import Producer, ensure_topics
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, Message, RoutedLabel, decode
from tracer_stream.embed import load_embedder
from tracer_stream.learn import Artefact, FitConfig, fit
from tracer_stream.registry import Registry
from tracer_stream.stack import free_port
from tracer_stream.tasks import Task
from tracer_stream.tasks.binding import binding_for

EMBEDDER = "hash:256"
VOCAB = {"card": ["card", "lost", "stolen", "pin", "atm", "blocked"],
         "weather": ["rain", "sunny", "forecast", "cloud", "storm", "wind"],
         "travel": ["flight", "hotel", "train", "ticket", "airport", "luggage"]}
FILLER = ["please", "today", "my", "the", "help", "now", "again", "quickly", "hi", "so"]


def synthetic(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` texts of three separable topics, with their labels."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = rng.choice(sorted(VOCAB))
        words = rng.sample(VOCAB[label], 3) + rng.sample(FILLER, 3)
        rng.shuffle(words)
        texts.append(" ".join(words) + f" n{seed}x{i}")
        labels.append(label)
    return texts, labels


def fit_model(seed: int = 0, alpha: float = 0.9, rename: dict[str, str] | None = None
              ) -> Artefact:
    """A small certified model (fits in well under a second); ``rename`` maps labels."""
    embedder = load_embedder(EMBEDDER)
    texts, labels = synthetic(900, seed)
    labels = [(rename or {}).get(y, y) for y in labels]
    return fit(embedder.embed(texts), labels, embedder=embedder.identity,
               config=FitConfig(zoo="fast", families=("global",), alphas=(alpha,),
                                target_alpha=alpha, seed=seed))


@dataclass
class Deployment:
    """Fresh topics + a private Redis key namespace for a test module (or one test)."""

    kafka: KafkaSettings
    topics: TopicSettings
    registry: Registry
    env: dict[str, str]
    tmp: Path
    routers: list[Router] = field(default_factory=list)
    _producer: Producer | None = None

    def new_task(self, prefix: str = "intents", **fields: Any) -> str:
        """Register a task with a unique name (routers load unknown tasks on first sight)."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.registry.put_task(Task(**{"name": name, "labels": sorted(VOCAB), "alpha": 0.9,
                                       "audit_rate": 0.0, "embedder": EMBEDDER, **fields}))
        return name

    def publish(self, task: str, artefact: Artefact, *, bind_to: Task | None = None) -> str:
        """Bind the model to the task as registered (or to ``bind_to``), sign it with the
        session's key, store it and make it current (the trainer's job)."""
        definition = bind_to or self.registry.get_task(task)
        assert definition is not None
        bound = artefact.with_binding(binding_for(definition, embedder=artefact.embedder.id,
                                                  delta_k=artefact.delta, traces={"n": 900}))
        return self.publish_blob(task, bound.to_bytes(MODEL_KEY), bound.manifest)

    def publish_blob(self, task: str, blob: bytes, manifest: dict[str, Any]) -> str:
        """Store ``blob`` as a new version and make it current, as is."""
        version = self.registry.add_version(task, blob, manifest)
        self.registry.set_current(task, version, reason="test")
        return version

    def announce(self, task: str, version: str) -> None:
        from tracer_stream.training.publish import Announcer

        announcer = Announcer(self.kafka, self.topics)
        announcer.announce(task, version, "promote", "test")
        announcer.close()

    def router(self, name: str = "router", *, wait_ready: bool = True,
               **settings: str) -> Router:
        """Start ``tracer-stream router`` (extra settings as environment variables)."""
        port = free_port()
        env = env_with(self.env, TRACER_STREAM_ROUTER_HTTP_PORT=str(port), **settings)
        router = Router(ServiceProcess(["router"], env, self.tmp / f"{name}.log"), port)
        self.routers.append(router)
        if wait_ready:
            wait_until(router.ready, 60, what=f"{name} ready")
        return router

    def send(self, requests: list[dict[str, Any]] | list[bytes]) -> None:
        """Produce requests (dicts are completed with ``schema_version``) and wait for acks."""
        if self._producer is None:
            self._producer = Producer(self.kafka)
        for item in requests:
            raw = item if isinstance(item, bytes) else orjson.dumps({"schema_version": 1,
                                                                      **item})
            key = None if isinstance(item, bytes) else str(item.get("request_id"))
            self._producer.send_raw(self.topics.name("requests"), raw, key=key)
        self._producer.flush_or_raise()

    def close(self) -> None:
        for router in self.routers:
            if router.proc.alive():
                router.proc.kill()
        if self._producer is not None:
            self._producer.close()
        self.registry.close()


@dataclass
class Router:
    """A router subprocess and its probe/metrics port."""

    proc: ServiceProcess
    port: int

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=2)

    def ready(self) -> bool:
        assert self.proc.alive(), self.proc.output()[-3000:]
        try:
            return self.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return float(sample.value)
        return 0.0


def create_foreign_topic(kafka: KafkaSettings) -> str:
    """Another application's topic (``payments.events-…``) that no reply may reach."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"payments.events-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(kafka.common_config())
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(10)
    return name


def topic_is_empty(kafka: KafkaSettings, topic: str) -> bool:
    """Nothing was ever produced to ``topic`` (its end offsets are all 0)."""
    consumer = confluent_kafka.Consumer(kafka.consumer_config(f"probe-{uuid.uuid4().hex[:6]}"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return all(consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p),
                                                  timeout=10)[1] == 0 for p in partitions)
    finally:
        consumer.close()


def request(request_id: str, text: str, task: str, **fields: Any) -> dict[str, Any]:
    return {"request_id": request_id, "task": task, "text": text, **fields}


def make_deployment(kafka: KafkaSettings, redis_settings: RedisSettings,
                    service_env: dict[str, str], tmp: Path) -> Deployment:
    """Topics with a unique prefix and a unique Redis key prefix."""
    topics = TopicSettings(prefix=f"r{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka, topics)
    prefix = f"rt-{uuid.uuid4().hex[:8]}:"
    registry = Registry.from_settings(redis_settings.model_copy(update={"key_prefix": prefix}))
    env = {**service_env, "TRACER_STREAM_TOPICS_PREFIX": topics.prefix,
           "TRACER_STREAM_REDIS_KEY_PREFIX": prefix,
           "TRACER_STREAM_ROUTER_GROUP_ID": f"router-{uuid.uuid4().hex[:8]}",
           "TRACER_STREAM_ROUTER_EMBEDDER": EMBEDDER,
           "TRACER_STREAM_ROUTER_MODEL_REFRESH_S": "1"}
    return Deployment(kafka, topics, registry, env, tmp)


@pytest.fixture
def deployment(kafka: KafkaSettings, redis_settings: RedisSettings,
               service_env: dict[str, str], tmp_path: Path) -> Iterator[Deployment]:
    """A deployment of its own for one test."""
    dep = make_deployment(kafka, redis_settings, service_env, tmp_path)
    yield dep
    dep.close()


OUTPUT_KINDS: dict[str, type[Message]] = {"labels": RoutedLabel, "llm_requests": LLMRequest,
                                          "dead_letter": DeadLetter}


class Collector:
    """Reads labels, LLM requests and dead letters of a topic set from the beginning."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings,
                 extra_label_topics: tuple[str, ...] = ()) -> None:
        conf = kafka.consumer_config(f"collector-{uuid.uuid4().hex[:8]}")
        conf.pop("partition.assignment.strategy")
        self._consumer = confluent_kafka.Consumer(conf)
        self._kind: dict[str, type[Message]] = {topics.name(k): cls
                                                for k, cls in OUTPUT_KINDS.items()}
        self._kind.update({t: RoutedLabel for t in extra_label_topics})
        assignment = []
        for topic in self._kind:
            meta = self._consumer.list_topics(topic, timeout=10).topics[topic]
            assignment += [confluent_kafka.TopicPartition(topic, p,
                                                          confluent_kafka.OFFSET_BEGINNING)
                           for p in meta.partitions]
        self._consumer.assign(assignment)
        self.messages: list[tuple[str, Message]] = []

    def poll(self, seconds: float = 0.3) -> None:
        """Read what is there, waiting up to ``seconds`` for the first message."""
        first = self._consumer.poll(seconds)
        if first is None:
            return
        for msg in [first, *self._consumer.consume(1000, timeout=0)]:
            if msg.error() is None:
                topic = str(msg.topic())
                self.messages.append((topic, decode(self._kind[topic], msg.value() or b"")))

    def by_request(self) -> dict[str | None, list[Message]]:
        out: dict[str | None, list[Message]] = defaultdict(list)
        for _topic, message in self.messages:
            out[getattr(message, "request_id", None)].append(message)
        return out

    def wait_for(self, request_ids: set[str], timeout_s: float = 20.0) -> None:
        """Until every id has at least one output."""
        def done() -> bool:
            self.poll()
            return request_ids <= set(self.by_request())
        wait_until(done, timeout_s, interval_s=0.0,
                   what=f"outputs for {len(request_ids)} requests")

    def close(self) -> None:
        self._consumer.close()


def answers(messages: list[Message]) -> list[Message]:
    """The outputs that answer the requester: labels, deferrals and dead letters (not the
    audit copies, which only produce a trace)."""
    return [m for m in messages
            if not (isinstance(m, LLMRequest) and not m.answer_requester)]
