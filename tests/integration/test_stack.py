"""The embedded stack as a user drives it: CLI up, library produce, CLI read, CLI down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tracer_stream.bus import Producer
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.contracts import ClassificationRequest, decode
from tracer_stream.stack import EmbeddedStack, free_port


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def _pids_alive(state_dir: Path) -> list[int]:
    alive = []
    for pid_file in state_dir.glob("*.pid"):
        pid = int(pid_file.read_text().split('"pid": ')[1].split(",")[0])
        if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text(
        ).split(")")[-1].split()[0]:
            alive.append(pid)
    return alive


def test_cli_stack_roundtrip_leaves_no_process_and_remembers_its_ports(tmp_path: Path) -> None:
    """stack up, a request produced by the library and read back with ``topics read``, stack
    down; ``stack status`` then names the ports the stack used, without being told them."""
    state = tmp_path / "state"
    kport, rport = free_port(), free_port()
    env = {**os.environ, "TRACER_STREAM_STATE_DIR": str(state),
           "TRACER_STREAM_TOPICS_PREFIX": "rt."}
    ports = ["--kafka-port", str(kport), "--redis-port", str(rport)]
    up = _cli("stack", "up", *ports, env=env)
    assert up.returncode == 0, up.stderr
    assert f"TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kport}" in up.stdout
    password = (state / "stack" / "redis.password").read_text()
    assert len(password) >= 24 and password not in up.stdout + up.stderr
    assert "TRACER_STREAM_REDIS_PASSWORD=**********" in up.stdout
    try:
        again = _cli("stack", "up", *ports, env=env)
        assert again.returncode == 0 and "exists" in again.stdout
        pids = _pids_alive(state / "stack")
        assert len(pids) == 2

        kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{kport}")
        request = ClassificationRequest(request_id="cli-1", task="intents", text="hello")
        producer = Producer(kafka)
        producer.send(TopicSettings(prefix="rt.").name("requests"), request, key="cli-1")
        producer.flush_or_raise()
        producer.close()
        read = _cli("topics", "read", "requests", "--keys",
                    env={**env, "TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kport}"})
        assert read.returncode == 0, read.stderr
        lines = read.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cli-1\t"), read.stdout
        message = decode(ClassificationRequest, lines[0].split("\t", 1)[1].encode())
        assert (message.request_id, message.task, message.text) == ("cli-1", "intents", "hello")
    finally:
        down = _cli("stack", "down", env=env)
    assert down.returncode == 0 and "tansu" in down.stdout and "redis" in down.stdout
    assert _pids_alive(state / "stack") == []
    status = _cli("stack", "status", env=env)
    assert status.returncode == 3 and "stopped" in status.stdout
    assert f"127.0.0.1:{kport}" in status.stdout and f"127.0.0.1:{rport}" in status.stdout


def test_stack_refuses_a_port_taken_by_someone_else(tmp_path: Path, stack: EmbeddedStack) -> None:
    from tracer_stream.errors import StackError

    intruder = EmbeddedStack(tmp_path, kafka_port=free_port(), redis_port=stack.redis_port)
    with pytest.raises(StackError, match=f"port {stack.redis_port}.*already in use"):
        intruder.up()
    assert intruder.status().kafka_pid is None and intruder.status().redis_pid is None


def test_embedded_redis_requires_the_generated_password(stack: EmbeddedStack) -> None:
    anonymous = RedisSettings(url=stack.redis.url)
    with pytest.raises(redis.AuthenticationError):
        anonymous.client().ping()
    wrong = RedisSettings(url=stack.redis.url, password="not-the-password")
    with pytest.raises(redis.AuthenticationError):
        wrong.client().ping()
    assert stack.redis.client().ping()
    assert stack.password_file.stat().st_mode & 0o077 == 0
    assert stack.env()["TRACER_STREAM_REDIS_PASSWORD"] == stack.password_file.read_text()


def test_a_restarted_stack_still_knows_its_tasks(tmp_path: Path) -> None:
    from tracer_stream.registry import Registry
    from tracer_stream.tasks import Task

    stack = EmbeddedStack(tmp_path / "state", kafka_port=free_port(), redis_port=free_port())
    stack.up()
    try:
        registry = Registry.from_settings(stack.redis)
        registry.put_task(Task(name="kept", labels=["a", "b"]))
        registry.close()
    finally:
        stack.down()
    stack.up()
    try:
        registry = Registry.from_settings(stack.redis)
        task = registry.get_task("kept")
        registry.close()
        assert task is not None and task.label_names == ("a", "b")
    finally:
        stack.down()
