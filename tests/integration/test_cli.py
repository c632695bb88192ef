"""The operator's commands against the real broker and Redis: ``status`` counts the last hour
from the labels and traces topics and reads the gate and refits from Redis; ``classify`` on a
task Redis does not know fails at once; ``topics read`` prints a topic's messages."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from tracer_stream.bus import Producer
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task

pytestmark = pytest.mark.integration


def _cli(args: list[str], env: dict[str, str], timeout: float = 60
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)


@pytest.fixture
def task_name(redis_settings: RedisSettings) -> str:
    name = f"ops-{uuid.uuid4().hex[:8]}"
    registry = Registry.from_settings(redis_settings)
    registry.put_task(Task.model_validate({"name": name, "labels": ["refund", "cancel"]}))
    registry.close()
    return name


def test_status_counts_the_last_hour_and_reads_the_gate(
        kafka: KafkaSettings, fresh_topics: TopicSettings, service_env: dict[str, str],
        redis_settings: RedisSettings, task_name: str) -> None:
    registry = Registry.from_settings(redis_settings)
    registry.set_gate(task_name, open_=False, reason="live monitor alarm")
    registry.close()
    producer = Producer(kafka)
    now = time.time()
    for i, source in enumerate(["surrogate", "surrogate", "surrogate", "llm"]):
        producer.send_raw(fresh_topics.name("labels"), (
            f'{{"schema_version":1,"request_id":"r{i}","task":"{task_name}","label":"refund",'
            f'"source":"{source}","created_at":{now}}}').encode(), key=f"r{i}")
    producer.send_raw(fresh_topics.name("labels"), b'{"task":"someone-else","source":"llm"}')
    for i, guess in enumerate(["refund", "cancel"]):
        producer.send_raw(fresh_topics.name("traces"), (
            f'{{"request_id":"r{i}","task":"{task_name}","audit":true,'
            f'"surrogate_label":"{guess}","label":"refund"}}').encode(), key=f"r{i}")
    producer.flush_or_raise()
    producer.close()

    env = {**service_env, "TRACER_STREAM_TOPICS_PREFIX": fresh_topics.prefix}
    result = _cli(["status", "--task", task_name], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"task {task_name}" in out
    assert "none certified yet" in out
    assert "CLOSED: live monitor alarm" in out
    assert "4 answers on the labels topic, surrogate coverage 75.0%" in out
    assert "0.500 on 2 audits" in out
    assert "consumer lag" in out and fresh_topics.name("requests") in out


def test_classify_refuses_an_unregistered_task_at_once(service_env: dict[str, str],
                                                       task_name: str) -> None:
    result = _cli(["classify", "hello", "--task", "no-such-task"], service_env, timeout=10)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no task named 'no-such-task' is registered" in result.stderr
    assert task_name in result.stderr  # lists what is registered


def test_topics_read_prints_every_message_with_its_key(
        kafka: KafkaSettings, fresh_topics: TopicSettings, service_env: dict[str, str]) -> None:
    producer = Producer(kafka)
    for i in range(5):
        producer.send_raw(fresh_topics.name("dead_letter"), f'{{"n":{i}}}'.encode(),
                          key=f"k{i}")
    producer.flush_or_raise()
    producer.close()
    env = {**service_env, "TRACER_STREAM_TOPICS_PREFIX": fresh_topics.prefix}
    result = _cli(["topics", "read", "dead_letter", "--keys"], env)
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == [f'k{i}\t{{"n":{i}}}' for i in range(5)]
