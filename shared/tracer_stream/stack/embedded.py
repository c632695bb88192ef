"""The embedded development stack: a Tansu Kafka-protocol broker and a Redis server on
loopback, with logs and pid files under one state directory.

``up`` is idempotent (a running stack is reported, not duplicated), ``down`` stops exactly the
processes ``up`` started. The stack is for demos and tests. The broker keeps nothing on disk;
Redis keeps an append-only file in the state directory, so tasks and models survive a restart.

Redis requires a password even here: ``up`` generates one (``secrets.token_urlsafe``), keeps it
in ``redis.password`` (mode 0600) under the state directory until ``down``, and hands it to
every process through :meth:`EmbeddedStack.env` / :attr:`EmbeddedStack.redis`. ``up`` also
writes ``stack.env`` (mode 0600): the connection settings plus a throw-away model key pair made
for this stack (``TRACER_STREAM_MODEL_SIGNING_KEY`` / ``_VERIFY_KEYS``), kept until ``down``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from pydantic import SecretStr

from tracer_stream.bus import ensure_topics
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.config.settings import DEFAULT_KAFKA_PORT, DEFAULT_REDIS_PORT
from tracer_stream.errors import StackError
from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey
from tracer_stream.stack.binaries import redis_binary, tansu_binary
from tracer_stream.stack.ports import port_open, wait_port
from tracer_stream.stack.process import ManagedProcess


@dataclass(frozen=True)
class StackStatus:
    kafka_pid: int | None
    redis_pid: int | None
    kafka_port: int
    redis_port: int

    @property
    def running(self) -> bool:
        return self.kafka_pid is not None and self.redis_pid is not None


PORTS_FILE = "ports.json"
"""Written by ``up`` into the state directory and kept after ``down``: the ports last used."""


def recorded_ports(state_dir: Path) -> tuple[int, int] | None:
    """``(kafka_port, redis_port)`` the last ``up`` in ``state_dir`` used, if any."""
    try:
        ports = json.loads((Path(state_dir) / PORTS_FILE).read_text())
        return int(ports["kafka"]), int(ports["redis"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class EmbeddedStack:
    """Broker + Redis on ``127.0.0.1``; ``kafka`` / ``redis`` give the settings to reach them."""

    def __init__(self, state_dir: Path, kafka_port: int = DEFAULT_KAFKA_PORT,
                 redis_port: int = DEFAULT_REDIS_PORT, topics: TopicSettings | None = None):
        self.state_dir = Path(state_dir).absolute()
        self.kafka_port = kafka_port
        self.redis_port = redis_port
        self.topics = topics or TopicSettings()
        self._broker = ManagedProcess("tansu", self.state_dir)
        self._redis = ManagedProcess("redis", self.state_dir)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=f"127.0.0.1:{self.kafka_port}")

    @property
    def password_file(self) -> Path:
        return self.state_dir / "redis.password"

    @property
    def redis(self) -> RedisSettings:
        return RedisSettings(url=SecretStr(f"redis://127.0.0.1:{self.redis_port}/0"),
                             password=SecretStr(self._password()))

    def env(self) -> dict[str, str]:
        """Environment variables that point every tracer-stream process at this stack (the
        Redis password included: never print them unmasked)."""
        return {
            "TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
            "TRACER_STREAM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "TRACER_STREAM_REDIS_PASSWORD": self._password(),
            "TRACER_STREAM_TOPICS_PREFIX": self.topics.prefix,
        }

    def _password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise StackError("the stack's Redis password is missing; run `tracer-stream stack "
                             "up` first", path=str(self.password_file)) from None

    def _stack_password(self) -> str:
        """The password of this stack's Redis: kept while the stack is up (a Redis restarted
        alone keeps it, so running services reconnect), else a fresh one in a file only this
        user can read."""
        if self.password_file.exists():
            return self._password()
        password = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        return password

    def status(self) -> StackStatus:
        return StackStatus(self._broker.running_pid(), self._redis.running_pid(),
                           self.kafka_port, self.redis_port)

    def up(self, timeout_s: float = 20.0) -> dict[str, str]:
        """Start whatever is not running, wait until both answer, create the topics.

        Returns the topic creation status. Raises :class:`StackError` when a port is taken by a
        foreign process or a server does not come up (its log path is in the message).
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / PORTS_FILE).write_text(
            json.dumps({"kafka": self.kafka_port, "redis": self.redis_port}))
        if self._redis.running_pid() is None:
            self._refuse_taken_port(self.redis_port, "Redis")
            data_dir = self.state_dir / "redis-data"
            data_dir.mkdir(exist_ok=True)
            config = self.state_dir / "redis.conf"  # the password stays off the command line
            fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"requirepass {self._stack_password()}\n")
            # tasks, model versions and gates survive a restart of the stack (append-only
            # file, fsync every second); the embedded broker itself keeps nothing on disk
            self._redis.start([
                str(redis_binary()), str(config), "--port", str(self.redis_port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--dir", str(data_dir),
            ])
        if self._broker.running_pid() is None:
            self._refuse_taken_port(self.kafka_port, "the Kafka broker")
            url = f"tcp://127.0.0.1:{self.kafka_port}"
            self._broker.start([
                str(tansu_binary()), "broker", "--listener-url", url,
                "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
            ])
        self._wait_ready(timeout_s)
        self._write_env_file()
        return ensure_topics(self.kafka, self.topics)

    def down(self) -> list[str]:
        """Stop what ``up`` started; returns the names of the processes stopped."""
        stopped = [p.name for p in (self._broker, self._redis) if p.stop()]
        for name in ("stack.env", "redis.conf", self.password_file.name, _MODEL_KEY_FILE):
            (self.state_dir / name).unlink(missing_ok=True)
        return stopped

    def _refuse_taken_port(self, port: int, what: str) -> None:
        if port_open(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is already in use, so {what} cannot start there; "
                "stop the other process or choose another port (--kafka-port/--redis-port)",
                port=port,
            )

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for proc, port in ((self._redis, self.redis_port), (self._broker, self.kafka_port)):
            if not wait_port(port, max(0.1, deadline - time.monotonic())) or (
                proc.running_pid() is None
            ):
                raise StackError(f"{proc.name} did not start; see its log {proc.log_file}",
                                 log=str(proc.log_file))
        client = self.redis.model_copy(update={"socket_timeout_s": 2.0}).client()
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise StackError("Redis is still loading",
                                     log=str(self._redis.log_file)) from None
                time.sleep(0.05)
        client.close()

    def _write_env_file(self) -> None:
        key = self._model_key()
        env = {**self.env(), SIGNING_KEY_ENV: key.seed_b64, VERIFY_KEYS_ENV: key.public_b64}
        _write_private(self.state_dir / "stack.env",
                       "".join(f"export {k}={v}\n" for k, v in env.items()))

    def _model_key(self) -> SigningKey:
        """This stack's throw-away model signing key (made at the first ``up``)."""
        path = self.state_dir / _MODEL_KEY_FILE
        if path.exists():
            return SigningKey.parse(path.read_text())
        key = SigningKey.generate()
        _write_private(path, key.seed_b64)
        return key


_MODEL_KEY_FILE = "model-signing-key"


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)
