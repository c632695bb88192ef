"""The router under failure: SIGKILL mid-stream and a restart, and Redis going away. Every
request still yields an answer (a label, an LLM request or a dead letter) — nothing is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from tests.integration.procs import wait_until
from tests.integration.test_router_kit import (
    Collector,
    Deployment,
    answers,
    deployment,
    fit_model,
    make_deployment,
    request,
    synthetic,
)
from tracer_stream.config import KafkaSettings, RedisSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, RoutedLabel
from tracer_stream.stack import free_port
from tracer_stream.stack.binaries import redis_binary
from tracer_stream.stack.ports import wait_port
from tracer_stream.stack.process import ManagedProcess

__all__ = ["deployment"]  # the fixture

BATCH = 16


def test_sigkill_mid_stream_and_restart_loses_nothing(deployment: Deployment) -> None:
    task = deployment.new_task("crash")
    deployment.publish(task, fit_model(seed=0))
    # a short session lets the restarted router take over the dead one's partitions sooner
    deployment.env["TRACER_STREAM_KAFKA_SESSION_TIMEOUT_MS"] = "3000"
    deployment.env["TRACER_STREAM_KAFKA_HEARTBEAT_INTERVAL_MS"] = "500"
    first = deployment.router("router-1", TRACER_STREAM_ROUTER_BATCH_MAX_SIZE=str(BATCH))
    texts, _ = synthetic(400, seed=3)
    sent: list[str] = []

    def stream() -> None:
        for i, text in enumerate(texts):
            deployment.send([request(f"k{i}", text, task)])
            sent.append(f"k{i}")
            time.sleep(0.004)

    producer = threading.Thread(target=stream)
    producer.start()
    wait_until(lambda: len(sent) > 120, 30, what="traffic before the crash")
    first.proc.kill()
    deployment.router("router-2", wait_ready=False, TRACER_STREAM_ROUTER_BATCH_MAX_SIZE=str(BATCH))
    producer.join()
    out = Collector(deployment.kafka, deployment.topics)
    out.wait_for(set(sent), timeout_s=60)
    by_id = out.by_request()
    counts = [len(answers(by_id[i])) for i in sent]
    assert min(counts) == 1, "no request lost"
    # only a batch whose outputs were acknowledged but not yet marked answered when the
    # process died can be answered twice (at-least-once); normally none is
    assert sum(c > 1 for c in counts) <= BATCH
    out.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[ManagedProcess, RedisSettings]]:
    """A Redis server of this test alone, so that it can be stopped."""
    port = free_port()
    proc = ManagedProcess("redis", tmp_path / "redis")
    proc.start([str(redis_binary()), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(tmp_path)])
    assert wait_port(port, 10)
    settings = RedisSettings(url=SecretStr(f"redis://127.0.0.1:{port}/0"))
    wait_until(lambda: _pings(settings), 10, what="redis up")
    yield proc, settings
    proc.stop()


def _pings(settings: RedisSettings) -> bool:
    try:
        return bool(settings.client().ping())
    except redis.RedisError:
        return False


def test_redis_down_requests_are_still_answered(
        kafka: KafkaSettings, service_env: dict[str, str], tmp_path: Path,
        own_redis: tuple[ManagedProcess, RedisSettings]) -> None:
    server, redis_settings = own_redis
    env = {k: v for k, v in service_env.items() if k != "TRACER_STREAM_REDIS_PASSWORD"}
    dep = make_deployment(kafka, redis_settings, {
        **env, "TRACER_STREAM_REDIS_URL": redis_settings.url.get_secret_value()}, tmp_path)
    try:
        served, bare = dep.new_task("kept"), dep.new_task("bare")
        version = dep.publish(served, fit_model(seed=0))
        router = dep.router(TRACER_STREAM_ROUTER_REGISTRY_MAX_STALENESS_S="4")
        out = Collector(dep.kafka, dep.topics)
        texts, _ = synthetic(30, seed=5)

        def round_(tag: str, tasks: list[str]) -> dict[str, list[object]]:
            ids = {f"{tag}-{t}-{i}": (t, text) for t in tasks for i, text in enumerate(texts)}
            dep.send([request(rid, text, t) for rid, (t, text) in ids.items()])
            out.wait_for(set(ids))
            by_id = out.by_request()
            assert all(len(answers(by_id[rid])) == 1 for rid in ids)
            return {rid: answers(by_id[rid]) for rid in ids}

        before = round_("up", [served, bare])
        assert any(isinstance(m[0], RoutedLabel) for m in before.values())
        server.stop()
        down = round_("down", [served, bare, "never-seen"])
        for rid, (message,) in down.items():
            if rid.startswith(f"down-{served}"):  # the last-known model keeps serving
                assert isinstance(message, RoutedLabel | LLMRequest)
                assert getattr(message, "model_version", None) == version
            elif rid.startswith(f"down-{bare}"):
                assert isinstance(message, LLMRequest) and message.reason == "no_model"
            else:  # never seen and no registry to ask: nobody can answer it
                assert isinstance(message, DeadLetter) and message.reason == "redis_unavailable"
        assert sum(isinstance(m[0], RoutedLabel) for rid, m in down.items()
                   if rid.startswith(f"down-{served}")) >= 20
        assert router.metric("tracer_stream_router_redis_up") == 0
        time.sleep(4.5)  # past registry_max_staleness_s: the gate state is no longer trusted
        stale = round_("stale", [served])
        assert all(isinstance(m[0], LLMRequest) and m[0].reason == "registry_stale"
                   for m in stale.values())
        assert router.proc.alive() and router.proc.stop() == 0
        out.close()
    finally:
        dep.close()
