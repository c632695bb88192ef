"""The client SDK, the classify CLI and kcat against a real router and a replay-teacher
worker: surrogate answers, LLM answers for deferred requests, asyncio, the label stream,
timeouts; clients sharing one reply topic, cancellation, back-pressure, and a client killed
mid-request leaving nothing behind."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import confluent_kafka.admin
import orjson
import pytest

from tests.integration.procs import ServiceProcess, env_with, wait_until
from tests.integration.test_router_kit import (
    EMBEDDER,
    Collector,
    Deployment,
    fit_model,
    make_deployment,
    synthetic,
)
from tracer_stream.client import AsyncTracerClient, ClassifyTimeout, TracerClient
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.contracts import DeadLetter, RoutedLabel
from tracer_stream.errors import BusError
from tracer_stream.stack import free_port

UNSEEN = {"what is the meaning of life": "travel", "tell me a joke": "weather"}
TEXTS, LABELS = synthetic(200, seed=21)


def accepted_texts() -> list[tuple[str, str]]:
    """Texts the served model answers itself (with its label), as the router will decide."""
    from tracer_stream.embed import load_embedder

    result = fit_model(seed=0).route(load_embedder(EMBEDDER).embed(TEXTS), alpha=0.9)
    return [(t, label) for t, label, ok in zip(TEXTS, result.labels, result.accepted,
                                               strict=True) if ok]


@pytest.fixture(scope="module")
def dep(kafka: KafkaSettings, redis_settings: RedisSettings, service_env: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One router and one replay-teacher worker for the module; task ``served`` has a
    certified model, task ``fresh`` has none (the worker answers it)."""
    tmp = tmp_path_factory.mktemp("client")
    deployment = make_deployment(kafka, redis_settings, service_env, tmp)
    replay = tmp / "answers.jsonl"
    replay.write_text("".join(orjson.dumps({"text": t, "label": y}).decode() + "\n"
                              for t, y in [*zip(TEXTS, LABELS, strict=True), *UNSEEN.items()]))
    deployment.env["SERVED"] = deployment.new_task("served")
    deployment.env["FRESH"] = deployment.new_task("fresh")
    deployment.publish(deployment.env["SERVED"], fit_model(seed=0))
    worker = ServiceProcess(
        ["worker", "--backend", "replay", "--replay-file", str(replay)],
        env_with(deployment.env, TRACER_STREAM_WORKER_GROUP_ID=f"w-{uuid.uuid4().hex[:6]}",
                 TRACER_STREAM_WORKER_HTTP_PORT=str(free_port()),
                 TRACER_STREAM_WORKER_BATCH_MAX_WAIT_MS="5"),
        tmp / "worker.log")
    deployment.router()
    yield deployment
    if worker.alive():
        assert worker.stop() == 0
    deployment.close()


@pytest.fixture
def client(dep: Deployment) -> Iterator[TracerClient]:
    with TracerClient(dep.kafka, dep.topics) as c:
        yield c


@pytest.fixture(scope="module")
def accepted() -> list[tuple[str, str]]:
    return accepted_texts()


def test_classify_returns_the_surrogate_label(dep: Deployment, client: TracerClient,
                                              accepted: list[tuple[str, str]]) -> None:
    text, expected = accepted[0]
    label = client.classify(text, dep.env["SERVED"], timeout_s=20, metadata={"user": "u1"})
    assert (label.label, label.source, label.model_version) == (expected, "surrogate", "v1")
    assert label.metadata == {"user": "u1"} and label.task == dep.env["SERVED"]


def test_classify_many_mixes_surrogate_and_llm_answers(dep: Deployment,
                                                       client: TracerClient) -> None:
    got = client.classify_many(TEXTS[:40], dep.env["SERVED"], timeout_s=90)
    sources = {g.source for g in got}
    assert sources <= {"surrogate", "llm"} and "surrogate" in sources
    assert sum(g.label == y for g, y in zip(got, LABELS, strict=False)) >= 36  # in order
    unseen = list(UNSEEN)
    llm = client.classify_many(unseen, dep.env["FRESH"], timeout_s=90)
    assert [(g.label, g.source) for g in llm] == [(UNSEEN[t], "llm") for t in unseen]
    assert all(g.reason == "no_model" or g.reason is None for g in llm)


def test_timeout_names_the_missing_requests(dep: Deployment, client: TracerClient) -> None:
    with pytest.raises(ClassifyTimeout, match="dead-letter") as caught:
        client.classify("hello", "no-such-task", timeout_s=2, request_id="lost-1")
    assert caught.value.missing == ["lost-1"]


def test_async_client_runs_concurrent_requests(dep: Deployment) -> None:
    async def main() -> list[RoutedLabel]:
        async with AsyncTracerClient(dep.kafka, dep.topics) as client:
            return list(await asyncio.gather(*(client.classify(t, dep.env["SERVED"],
                                                               timeout_s=30)
                                               for t in TEXTS[40:50])))

    got = asyncio.run(main())
    assert len({g.request_id for g in got}) == 10
    assert sum(g.label == y for g, y in zip(got, LABELS[40:50], strict=True)) >= 9


def test_stream_labels_sees_labels_on_the_labels_topic(
        dep: Deployment, client: TracerClient, accepted: list[tuple[str, str]]) -> None:
    stream = client.stream_labels(from_beginning=True, idle_timeout_s=15)
    rid = f"stream-{uuid.uuid4().hex[:6]}"
    dep.send([{"request_id": rid, "task": dep.env["SERVED"], "text": accepted[1][0]}])
    assert any(label.request_id == rid for label in stream)  # stops at the label
    stream.close()


def test_classify_cli_prints_the_label_json(dep: Deployment,
                                            accepted: list[tuple[str, str]]) -> None:
    text, expected = accepted[2]
    run = subprocess.run(
        [sys.executable, "-m", "tracer_stream.cli.main", "classify", text,
         "--task", dep.env["SERVED"], "--timeout", "30", "--metadata", '{"a": 1}'],
        env=env_with(dep.env), capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    label = orjson.loads(run.stdout)
    assert (label["label"], label["source"], label["metadata"]) == (expected, "surrogate",
                                                                    {"a": 1})


def test_kcat_producer_gets_a_label(dep: Deployment, kcat_env: dict[str, str],
                                    accepted: list[tuple[str, str]]) -> None:
    """What docs/router.md shows for non-Python producers."""
    rid = f"kcat-{uuid.uuid4().hex[:6]}"
    text, expected = accepted[3]
    line = orjson.dumps({"schema_version": 1, "request_id": rid, "task": dep.env["SERVED"],
                         "text": text}).decode()
    produced = subprocess.run(
        ["kcat", "-P", "-b", dep.kafka.bootstrap_servers, "-t", dep.topics.name("requests"),
         "-k", rid], input=line + "\n", env=kcat_env, capture_output=True, text=True,
        timeout=30)
    assert produced.returncode == 0, produced.stderr
    out = Collector(dep.kafka, dep.topics)
    out.wait_for({rid})
    (label,) = out.by_request()[rid]
    assert isinstance(label, RoutedLabel) and label.label == expected
    out.close()

    def kcat_reads_it() -> bool:
        consumed = subprocess.run(
            ["kcat", "-C", "-b", dep.kafka.bootstrap_servers, "-t", dep.topics.name("labels"),
             "-o", "beginning", "-e", "-q"], env=kcat_env, capture_output=True, text=True,
            timeout=30)
        return rid in consumed.stdout

    wait_until(kcat_reads_it, 20, interval_s=0.5, what="kcat reads the label")


def test_eight_clients_on_one_reply_topic_each_get_exactly_their_answers(
        dep: Deployment, accepted: list[tuple[str, str]]) -> None:
    served = accepted[4:44]
    unseen = list(UNSEEN)

    async def one(client: AsyncTracerClient, n: int) -> tuple[list[str], list[RoutedLabel]]:
        texts = [t for t, _y in served[n * 5:(n + 1) * 5]] + [unseen[n % 2]]
        ids = [f"c{n}-{i}-{uuid.uuid4().hex[:6]}" for i in range(len(texts))]
        got = await client.classify_many(texts[:5], dep.env["SERVED"], timeout_s=90,
                                         request_ids=ids[:5])
        got.append(await client.classify(texts[5], dep.env["FRESH"], timeout_s=90,
                                         request_id=ids[5]))
        return ids, got

    async def main() -> list[tuple[list[str], list[RoutedLabel]]]:
        clients = [AsyncTracerClient(dep.kafka, dep.topics) for _ in range(8)]
        assert len({c.reply_topic for c in clients}) == 1
        try:
            return list(await asyncio.gather(*(one(c, n) for n, c in enumerate(clients))))
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    results = asyncio.run(main())
    for n, (ids, got) in enumerate(results):
        assert [g.request_id for g in got] == ids
        assert [g.label for g in got[:5]] == [y for _t, y in served[n * 5:(n + 1) * 5]]
        assert (got[5].label, got[5].source) == (UNSEEN[unseen[n % 2]], "llm")


def test_cancelling_a_call_forgets_it_and_the_client_keeps_working(
        dep: Deployment, accepted: list[tuple[str, str]]) -> None:
    async def main() -> RoutedLabel:
        async with AsyncTracerClient(dep.kafka, dep.topics) as client:
            call = asyncio.create_task(client.classify("hi", "no-such-task", timeout_s=60))
            await asyncio.sleep(1.0)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert client._inbox.in_flight == 0
            return await client.classify(accepted[44][0], dep.env["SERVED"], timeout_s=30)

    assert asyncio.run(main()).label == accepted[44][1]


def test_back_pressure_keeps_at_most_max_in_flight_requests_out(dep: Deployment) -> None:
    """Six requests that are never answered (dead-lettered), two slots: only two leave."""
    ids = [f"bp-{i}-{uuid.uuid4().hex[:6]}" for i in range(6)]
    out = Collector(dep.kafka, dep.topics)
    with TracerClient(dep.kafka, dep.topics, max_in_flight=2) as client, \
            pytest.raises(ClassifyTimeout) as caught:
        client.classify_many(["hi"] * 6, "no-such-task", timeout_s=6, request_ids=ids)
    assert caught.value.missing == ids
    out.wait_for(set(ids[:2]))
    out.poll(2.0)
    letters = {m.request_id for _t, m in out.messages if isinstance(m, DeadLetter)}
    assert letters & set(ids) == set(ids[:2])
    out.close()


def test_stream_labels_raises_consumer_errors(dep: Deployment) -> None:
    missing = TopicSettings(prefix=f"gone{uuid.uuid4().hex[:6]}.")
    with TracerClient(dep.kafka, missing) as client:
        stream = client.stream_labels(idle_timeout_s=5)
        with pytest.raises(BusError, match="labels topic does not exist"):
            next(stream)


def test_a_client_killed_mid_request_leaves_no_topic_behind(dep: Deployment) -> None:
    admin = confluent_kafka.admin.AdminClient(dep.kafka.common_config())
    before = set(admin.list_topics(timeout=10).topics)
    script = textwrap.dedent(f"""
        from tracer_stream.client import TracerClient
        from tracer_stream.config import KafkaSettings, TopicSettings
        client = TracerClient(KafkaSettings(bootstrap_servers={dep.kafka.bootstrap_servers!r}),
                              TopicSettings(prefix={dep.topics.prefix!r}))
        print("sending", flush=True)
        client.classify("hi", "no-such-task", timeout_s=120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=env_with(dep.env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "sending"
    time.sleep(3.0)  # the request is out, its reply is awaited
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert set(admin.list_topics(timeout=10).topics) == before
