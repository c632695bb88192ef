"""The LLM worker as a subprocess against the real broker and Redis, with local HTTP servers
speaking the OpenAI and the Anthropic protocol as the teacher (and the replay backend): outputs
and their fields, retries, dead letters, probes and metrics, clean shutdown with commits."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import pytest

from tests.integration.procs import ServiceProcess, env_with, wait_until
from tests.integration.test_router_kit import create_foreign_topic, topic_is_empty
from tests.unit.llm.llm_servers import FakeLLMServer, Reply, is_followup, prompt_text, running
from tracer_stream.bus import BatchConsumer, Producer, ensure_topics
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.contracts import (
    DeadLetter,
    LLMRequest,
    Message,
    RoutedLabel,
    Trace,
    decode,
    encode,
)
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task

LABELS = ["positive", "negative", "neutral"]
ANSWERS = {"what a lovely day": "Positive.", "this is awful": "negative",
           "it is a chair": "neutral", "gibberish": "I cannot tell",
           "corrected please": "The sentiment is negative"}
KINDS: dict[str, type[Message]] = {"labels": RoutedLabel, "traces": Trace,
                                   "dead_letter": DeadLetter}
Outputs = dict[str, list[Any]]


def teacher_reply(body: dict[str, Any]) -> Reply:
    if is_followup(body):
        first = prompt_text(body)
        return Reply("negative" if first == "corrected please" else "still unsure")
    return Reply(ANSWERS.get(prompt_text(body), "neutral"), input_tokens=80, output_tokens=2)


def register_task(redis_settings: RedisSettings, prefix: str = "sentiment") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    registry = Registry.from_settings(redis_settings)
    try:
        registry.put_task(Task(name=name, labels=LABELS))
    finally:
        registry.close()
    return name


def llm_request(task: str, text: str, **fields: Any) -> LLMRequest:
    defaults: dict[str, Any] = dict(answer_requester=True, audit=False, gate_accepted=False,
                                    reason="no_model", embedding=[0.5, -0.5],
                                    embedder_id="hash-2", model_version="v1",
                                    surrogate_label="neutral", accept_score=0.3)
    return LLMRequest(request_id=f"req-{uuid.uuid4().hex[:10]}", task=task, text=text,
                      **(defaults | fields))


def send(kafka: KafkaSettings, topics: TopicSettings, *items: LLMRequest | bytes) -> None:
    producer = Producer(kafka)
    for item in items:
        if isinstance(item, bytes):
            producer.send_raw(topics.name("llm_requests"), item)
        else:
            producer.send(topics.name("llm_requests"), item, key=item.request_id)
    producer.flush_or_raise()


def collect(kafka: KafkaSettings, topics: TopicSettings, until: Callable[[Outputs], bool],
            timeout_s: float = 60.0) -> Outputs:
    """Decode (and so schema-validate) every label, trace and dead letter until ``until``."""
    names = {topics.name(kind): kind for kind in KINDS}
    consumer = BatchConsumer(kafka, f"it-reader-{uuid.uuid4().hex[:8]}", list(names))
    got: Outputs = {kind: [] for kind in KINDS}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for record in consumer.poll_batch(200, 0.05, idle_timeout_s=0.2):
                kind = names[record.topic()]
                got[kind].append(decode(KINDS[kind], record.value()))
            if until(got):
                return got
    finally:
        consumer.close()
    raise AssertionError(f"timed out; collected {({k: len(v) for k, v in got.items()})}")


def by_id(messages: list[Any]) -> dict[str | None, list[Any]]:
    out: dict[str | None, list[Any]] = {}
    for message in messages:
        out.setdefault(message.request_id, []).append(message)
    return out


def has(*, labels: Iterable[str] = (), traces: Iterable[str] = (), dead: Iterable[str] = ()
        ) -> Callable[[Outputs], bool]:
    """True once every listed request id has its label / trace / dead letter."""
    wanted = {"labels": set(labels), "traces": set(traces), "dead_letter": set(dead)}

    def check(got: Outputs) -> bool:
        return all(ids <= set(by_id(got[kind])) for kind, ids in wanted.items())
    return check


def probe_port(worker: ServiceProcess) -> int:
    found = re.search(r"probes on http://[\d.]+:(\d+)", worker.output())
    assert found, worker.output()
    return int(found.group(1))


@pytest.fixture(scope="module")
def teacher() -> Iterator[FakeLLMServer]:
    with running("openai", teacher_reply) as server:
        yield server


@pytest.fixture(scope="module")
def worker_topics(kafka: KafkaSettings) -> TopicSettings:
    topics = TopicSettings(prefix=f"w{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka, topics)
    return topics


@pytest.fixture(scope="module")
def openai_worker(service_env: dict[str, str], worker_topics: TopicSettings,
                  teacher: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[ServiceProcess]:
    env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=worker_topics.prefix,
                   TRACER_STREAM_WORKER_GROUP_ID=f"it-worker-{uuid.uuid4().hex[:6]}",
                   TRACER_STREAM_WORKER_BASE_URL=teacher.base_url,
                   TRACER_STREAM_WORKER_API_KEY="sk-integration-SECRET",
                   TRACER_STREAM_WORKER_MODEL="test-model",
                   TRACER_STREAM_WORKER_HTTP_PORT="0",
                   TRACER_STREAM_WORKER_MAX_RETRIES="2",
                   TRACER_STREAM_WORKER_BACKOFF_BASE_S="0.05",
                   TRACER_STREAM_WORKER_PRICE_PER_1K_INPUT_TOKENS_USD="0.5")
    worker = ServiceProcess(["worker"], env, tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    code = worker.stop()
    assert code == 0, worker.output()
    assert "sk-integration-SECRET" not in worker.output()


def test_deferred_requests_get_a_label_and_a_trace(
        kafka: KafkaSettings, redis_settings: RedisSettings, worker_topics: TopicSettings,
        openai_worker: ServiceProcess) -> None:
    task = register_task(redis_settings)
    happy = llm_request(task, "what a lovely day", metadata={"ticket": 12})
    corrected = llm_request(task, "corrected please", reason="below_threshold")
    send(kafka, worker_topics, happy, corrected)
    ids = {happy.request_id, corrected.request_id}
    got = collect(kafka, worker_topics, has(labels=ids, traces=ids))
    labels, traces = by_id(got["labels"]), by_id(got["traces"])
    [label] = labels[happy.request_id]
    assert (label.task, label.label, label.source, label.reason) == (
        task, "positive", "llm", "no_model")
    assert label.metadata == {"ticket": 12}
    assert label.timings["llm_ms"] > 0 and label.timings["total_ms"] >= label.timings["llm_ms"]
    [trace] = traces[happy.request_id]
    assert (trace.text, trace.label, trace.audit, trace.gate_accepted) == (
        "what a lovely day", "positive", False, False)
    assert (trace.embedding, trace.embedder_id, trace.model_version) == (
        [0.5, -0.5], "hash-2", "v1")
    assert (trace.surrogate_label, trace.accept_score) == ("neutral", 0.3)
    assert trace.teacher == "openai:test-model"
    assert (trace.input_tokens, trace.output_tokens) == (80, 2)
    assert trace.cost_usd == pytest.approx(0.04)
    assert trace.latency_ms > 0
    assert labels[corrected.request_id][0].label == "negative"
    assert labels[corrected.request_id][0].reason == "below_threshold"
    assert got["dead_letter"] == []


def test_audit_copies_produce_a_trace_but_no_label(
        kafka: KafkaSettings, redis_settings: RedisSettings, worker_topics: TopicSettings,
        openai_worker: ServiceProcess) -> None:
    task = register_task(redis_settings)
    audit = llm_request(task, "this is awful", answer_requester=False, audit=True,
                        gate_accepted=True, reason=None, surrogate_label="negative")
    marker = llm_request(task, "it is a chair")
    send(kafka, worker_topics, audit, marker)
    got = collect(kafka, worker_topics, has(
        labels={marker.request_id}, traces={audit.request_id, marker.request_id}))
    [trace] = by_id(got["traces"])[audit.request_id]
    assert (trace.label, trace.audit, trace.gate_accepted, trace.surrogate_label) == (
        "negative", True, True, "negative")
    assert audit.request_id not in by_id(got["labels"])


def test_failures_become_dead_letters_while_the_worker_keeps_serving(
        kafka: KafkaSettings, redis_settings: RedisSettings, worker_topics: TopicSettings,
        openai_worker: ServiceProcess) -> None:
    task = register_task(redis_settings)
    foreign = create_foreign_topic(kafka)
    unparseable = llm_request(task, "gibberish")
    unknown = llm_request("no-such-task", "what a lovely day")
    no_topic = llm_request(task, "what a lovely day", reply_topic="tracer.replies.no-such")
    own_topic = llm_request(task, "what a lovely day",
                            reply_topic=worker_topics.name("models"))
    oversized = llm_request(task, "what a lovely day", embedding=[0.123456] * 40_000)
    foreign_topic = llm_request(task, "what a lovely day", reply_topic=foreign)
    send(kafka, worker_topics, unparseable, unknown, b"{not json", b'{"schema_version": 1}',
         no_topic, own_topic, encode(oversized), foreign_topic)
    got = collect(kafka, worker_topics, lambda g: len(g["dead_letter"]) >= 8)
    letters = by_id(got["dead_letter"])
    # D4: a record too large to decode still names its request and task.
    [too_large] = letters[oversized.request_id]
    assert (too_large.reason, too_large.task, too_large.payload_truncated) == (
        "too_large", task, True)
    assert letters[no_topic.request_id][0].reason == "unknown_reply_topic"
    assert letters[own_topic.request_id][0].reason == "reply_topic_not_allowed"
    assert letters[own_topic.request_id][0].field == "reply_topic"
    [refused] = letters[foreign_topic.request_id]
    assert (refused.reason, refused.field, refused.task) == (
        "reply_topic_not_allowed", "reply_topic", task)
    assert topic_is_empty(kafka, foreign)
    [bad_answer] = letters[unparseable.request_id]
    assert (bad_answer.reason, bad_answer.stage, bad_answer.task) == (
        "unparseable_answer", "worker", task)
    assert "raw answer: still unsure" in bad_answer.detail
    assert letters[unknown.request_id][0].reason == "unknown_task"
    assert sorted(d.reason for d in letters[None]) == ["malformed_json", "schema_violation"]
    assert {unparseable.request_id, unknown.request_id, no_topic.request_id,
            own_topic.request_id, foreign_topic.request_id}.isdisjoint(
        set(by_id(got["labels"])) | set(by_id(got["traces"])))

    after = llm_request(task, "what a lovely day")
    send(kafka, worker_topics, after)
    collect(kafka, worker_topics, has(labels={after.request_id}, traces={after.request_id}))
    assert openai_worker.alive()


def test_probes_and_metrics(openai_worker: ServiceProcess, kafka: KafkaSettings,
                            redis_settings: RedisSettings, worker_topics: TopicSettings) -> None:
    task = register_task(redis_settings)
    request = llm_request(task, "it is a chair")
    send(kafka, worker_topics, request)
    collect(kafka, worker_topics, has(traces={request.request_id}))
    base = f"http://127.0.0.1:{probe_port(openai_worker)}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, 20, what="readyz")
    metrics = httpx.get(f"{base}/metrics").text
    assert f'tracer_stream_worker_llm_calls_total{{outcome="ok",task="{task}"}} 1.0' in metrics
    assert f'tracer_stream_worker_llm_tokens_total{{kind="input",task="{task}"}} 80.0' in metrics
    for name in ("llm_cost_usd_total", "llm_retries_total", "llm_latency_seconds_bucket",
                 "slot_wait_seconds_bucket", "dead_letters_total", "in_flight", "pending",
                 "paused", "produced_total"):
        assert f"tracer_stream_worker_{name}" in metrics


def test_anthropic_backend_retries_a_429_then_labels(
        kafka: KafkaSettings, redis_settings: RedisSettings, fresh_topics: TopicSettings,
        service_env: dict[str, str], tmp_path: Path) -> None:
    task = register_task(redis_settings, "anthropic")
    with running("anthropic", teacher_reply) as server:
        server.script.append(Reply(status=429, headers={"retry-after": "0"}))
        env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=fresh_topics.prefix,
                       TRACER_STREAM_WORKER_GROUP_ID=f"it-anthropic-{uuid.uuid4().hex[:6]}",
                       TRACER_STREAM_WORKER_BACKEND="anthropic",
                       TRACER_STREAM_WORKER_BASE_URL=server.base_url,
                       TRACER_STREAM_WORKER_API_KEY="sk-ant-integration-SECRET",
                       TRACER_STREAM_WORKER_MODEL="test-model",
                       TRACER_STREAM_WORKER_HTTP_PORT="0",
                       TRACER_STREAM_WORKER_BACKOFF_BASE_S="0.05")
        request = llm_request(task, "this is awful")
        send(kafka, fresh_topics, request)
        worker = ServiceProcess(["worker"], env, tmp_path / "anthropic.log")
        try:
            got = collect(kafka, fresh_topics, has(labels={request.request_id},
                                                   traces={request.request_id}))
        finally:
            assert worker.stop() == 0, worker.output()
        assert "sk-ant-integration-SECRET" not in worker.output()
        recorded = server.requests
    assert [r.path for r in recorded] == ["/v1/messages", "/v1/messages"]  # 429, then 200
    assert recorded[-1].api_key == "sk-ant-integration-SECRET"
    [label] = by_id(got["labels"])[request.request_id]
    [trace] = by_id(got["traces"])[request.request_id]
    assert (label.label, label.source) == ("negative", "llm")
    assert (trace.label, trace.teacher) == ("negative", "anthropic:test-model")
    assert got["dead_letter"] == []


def test_replay_backend_end_to_end_and_sigterm_commits(
        kafka: KafkaSettings, redis_settings: RedisSettings, fresh_topics: TopicSettings,
        service_env: dict[str, str], tmp_path: Path) -> None:
    task = register_task(redis_settings, "replay")
    replay = tmp_path / "answers.jsonl"
    replay.write_text('{"text": "what a lovely day", "label": "positive"}\n'
                      '{"input": "this is awful", "teacher": "negative"}\n')
    env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=fresh_topics.prefix,
                   TRACER_STREAM_WORKER_GROUP_ID=f"it-replay-{uuid.uuid4().hex[:6]}",
                   TRACER_STREAM_WORKER_HTTP_PORT="0",
                   TRACER_STREAM_WORKER_REPLAY_LATENCY_MS="5",
                   TRACER_STREAM_WORKER_PRICE_PER_CALL_USD="0.001")
    first = [llm_request(task, "what a lovely day"), llm_request(task, "this is awful"),
             llm_request(task, "never recorded")]
    send(kafka, fresh_topics, *first)
    worker = ServiceProcess(["worker", "--backend", "replay", "--replay-file", str(replay)],
                            env, tmp_path / "replay-1.log")
    try:
        got = collect(kafka, fresh_topics, has(
            labels={first[0].request_id, first[1].request_id},
            traces={first[0].request_id, first[1].request_id}, dead={first[2].request_id}))
    finally:
        assert worker.stop() == 0, worker.output()
    assert "worker stopped" in worker.output()
    labels = {r: m[0].label for r, m in by_id(got["labels"]).items()}
    assert labels == {first[0].request_id: "positive", first[1].request_id: "negative"}
    trace = by_id(got["traces"])[first[0].request_id][0]
    assert trace.teacher == "replay:answers.jsonl" and trace.cost_usd == pytest.approx(0.001)
    [letter] = by_id(got["dead_letter"])[first[2].request_id]
    assert letter.reason == "llm_failure" and "replay_unknown_text" in letter.detail

    # The same group after a clean stop: committed requests are not labelled again.
    later = llm_request(task, "this is awful")
    send(kafka, fresh_topics, later)
    again = ServiceProcess(["worker", "--backend", "replay", "--replay-file", str(replay)],
                           env, tmp_path / "replay-2.log")
    try:
        got = collect(kafka, fresh_topics, has(traces={later.request_id}))
    finally:
        assert again.stop() == 0, again.output()
    traces = by_id(got["traces"])
    assert all(len(traces[r.request_id]) == 1 for r in first[:2])


def test_sigterm_finishes_in_flight_calls_publishes_and_commits(
        kafka: KafkaSettings, redis_settings: RedisSettings, fresh_topics: TopicSettings,
        service_env: dict[str, str], tmp_path: Path) -> None:
    task = register_task(redis_settings, "shutdown")
    group = f"it-shutdown-{uuid.uuid4().hex[:6]}"
    with running("openai", lambda _body: Reply("neutral", delay_s=2.0)) as server:
        env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=fresh_topics.prefix,
                       TRACER_STREAM_WORKER_GROUP_ID=group,
                       TRACER_STREAM_WORKER_BASE_URL=server.base_url,
                       TRACER_STREAM_WORKER_HTTP_PORT="0")
        worker = ServiceProcess(["worker"], env, tmp_path / "worker.log")
        request = llm_request(task, "it is a chair")
        send(kafka, fresh_topics, request)
        try:
            wait_until(lambda: len(server.requests) == 1, 60, what="the LLM call to start")
        finally:
            code = worker.stop()
        assert code == 0, worker.output()
        assert server.in_flight == 0 and len(server.requests) == 1

    got = collect(kafka, fresh_topics, has(labels={request.request_id},
                                           traces={request.request_id}))
    assert got["labels"][0].label == "neutral"

    topic = fresh_topics.name("llm_requests")
    probe = confluent_kafka.Consumer(kafka.consumer_config(group))
    try:
        committed = probe.committed([confluent_kafka.TopicPartition(topic, p)
                                     for p in range(fresh_topics.partitions)], timeout=10)
    finally:
        probe.close()
    assert sorted(tp.offset for tp in committed if tp.offset >= 0) == [1]


def committed_offsets(kafka: KafkaSettings, topics: TopicSettings, group: str) -> list[int]:
    """The group's committed offsets on the llm-requests partitions that have one."""
    topic = topics.name("llm_requests")
    probe = confluent_kafka.Consumer(kafka.consumer_config(group))
    try:
        committed = probe.committed([confluent_kafka.TopicPartition(topic, p)
                                     for p in range(topics.partitions)], timeout=10)
    finally:
        probe.close()
    return sorted(tp.offset for tp in committed if tp.offset >= 0)


def slow_for(texts: set[str], delay_s: float) -> Callable[[dict[str, Any]], Reply]:
    def reply(body: dict[str, Any]) -> Reply:
        return Reply("neutral", delay_s=delay_s if prompt_text(body) in texts else 0.0)
    return reply


def test_a_slow_call_holds_back_neither_other_answers_nor_more_than_its_own_commit(
        kafka: KafkaSettings, redis_settings: RedisSettings, fresh_topics: TopicSettings,
        service_env: dict[str, str], tmp_path: Path) -> None:
    task = register_task(redis_settings, "slow")
    group = f"it-slow-{uuid.uuid4().hex[:6]}"
    with running("openai", slow_for({"slow one"}, 12.0)) as server:
        env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=fresh_topics.prefix,
                       TRACER_STREAM_WORKER_GROUP_ID=group,
                       TRACER_STREAM_WORKER_BASE_URL=server.base_url,
                       TRACER_STREAM_WORKER_HTTP_PORT="0")
        worker = ServiceProcess(["worker"], env, tmp_path / "worker.log")
        slow = llm_request(task, "slow one")
        fast = [llm_request(task, f"fast {i}") for i in range(20)]
        producer = Producer(kafka)  # one key: every request on the same partition, slow first
        for request in (slow, *fast):
            producer.send(fresh_topics.name("llm_requests"), request, key="one-partition")
        producer.flush_or_raise()
        try:
            got = collect(kafka, fresh_topics, has(labels={r.request_id for r in fast}))
            assert slow.request_id not in by_id(got["labels"]) and server.in_flight == 1
            # Everything after the slow request is answered, yet the commit stays below it
            # (at offset 0, or nothing committed yet).
            assert committed_offsets(kafka, fresh_topics, group) in ([], [0])
            collect(kafka, fresh_topics, has(labels={slow.request_id}))
            wait_until(lambda: committed_offsets(kafka, fresh_topics, group) == [21], 20,
                       what="the commit to pass the slow request")
        finally:
            assert worker.stop() == 0, worker.output()


def test_a_partition_revoked_mid_call_yields_exactly_one_outcome_per_request(
        kafka: KafkaSettings, redis_settings: RedisSettings, service_env: dict[str, str],
        tmp_path: Path) -> None:
    topics = TopicSettings(prefix=f"r{uuid.uuid4().hex[:8]}.", partitions=2)
    ensure_topics(kafka, topics)
    task = register_task(redis_settings, "revoke")
    attempts: dict[str, int] = {}

    def first_attempt_hangs(body: dict[str, Any]) -> Reply:
        text = prompt_text(body)
        attempts[text] = attempts.get(text, 0) + 1
        hang = text.startswith("slow") and attempts[text] == 1
        return Reply("neutral", delay_s=120.0 if hang else 0.0)

    with running("openai", first_attempt_hangs) as server:
        env = env_with(service_env, TRACER_STREAM_TOPICS_PREFIX=topics.prefix,
                       TRACER_STREAM_TOPICS_PARTITIONS="2",
                       TRACER_STREAM_WORKER_GROUP_ID=f"it-revoke-{uuid.uuid4().hex[:6]}",
                       TRACER_STREAM_WORKER_BASE_URL=server.base_url,
                       TRACER_STREAM_WORKER_DRAIN_TIMEOUT_S="1",
                       TRACER_STREAM_WORKER_HTTP_PORT="0")
        requests: list[LLMRequest] = []
        producer = Producer(kafka)
        for partition in (0, 1):  # per partition: a hanging call, then requests answered after it
            batch = [llm_request(task, f"slow on {partition}"),
                     *(llm_request(task, f"fast {partition}-{i}") for i in range(5))]
            for request in batch:
                producer._producer.produce(topics.name("llm_requests"), encode(request),
                                           key=request.request_id, partition=partition)
            requests += batch
        producer.flush_or_raise()
        first = ServiceProcess(["worker"], env, tmp_path / "first.log")
        second: ServiceProcess | None = None
        try:
            collect(kafka, topics, has(labels={r.request_id for r in requests
                                               if r.text.startswith("fast")}))
            wait_until(lambda: server.in_flight == 2, 20, what="both first attempts to hang")
            second = ServiceProcess(["worker"], env, tmp_path / "second.log")
            wait_until(lambda: "revoked: 1 unfinished" in first.output(), 60,
                       what="the first worker to give up a partition mid-call")
            wait_until(lambda: "assigned" in second.output(), 60,
                       what="the second worker to take the partition over")
            assert first.stop() == 0, first.output()  # its other hanging call is cancelled too
            every = {r.request_id for r in requests}
            collect(kafka, topics, has(labels=every))
            time.sleep(2.0)  # room for a second outcome, were one coming
            got = collect(kafka, topics, has(labels=every, traces=every))
            metrics = httpx.get(f"http://127.0.0.1:{probe_port(second)}/metrics").text
        finally:
            first.stop()
            if second is not None:
                assert second.stop() == 0, second.output()
    outcomes = by_id(got["labels"] + got["dead_letter"])
    assert {rid: len(msgs) for rid, msgs in outcomes.items()} == {
        r.request_id: 1 for r in requests}
    assert {rid: len(msgs) for rid, msgs in by_id(got["traces"]).items()} == {
        r.request_id: 1 for r in requests}
    assert attempts == {"slow on 0": 2, "slow on 1": 2} | {
        r.text: 1 for r in requests if r.text.startswith("fast")}
    # The second worker re-read the requests answered after each hanging one and skipped them.
    assert "tracer_stream_worker_skipped_answered_total 10.0" in metrics
