"""A whole deployment for fault scenarios: its own broker and Redis (so a paused or restarted
one disturbs nobody else), the router, the LLM worker and optionally the trainer as processes,
and a fake OpenAI-compatible LLM whose behaviour a scenario switches at will.

A scenario that pauses or restarts the broker or Redis, or needs its own settings, gets a
deployment of its own. The others share one per module (the start-up of the processes is most
of a scenario's time) but not their traffic: :meth:`FaultDeployment.new_scenario` registers a
task of their own, so their requests, ids and ledger are theirs alone, and
:meth:`FaultDeployment.check_healthy` fails the scenario that leaves a service dead (and
restarts it, so the next one starts from a healthy deployment)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.faults.ledger import Ledger
from tests.integration.procs import SIGNER_ENV, VERIFIER_ENV, ServiceProcess, env_with, wait_until
from tests.unit.llm.llm_servers import FakeLLMServer, Reply
from tracer_stream.bus import Producer, ensure_topics
from tracer_stream.registry import Registry
from tracer_stream.stack import EmbeddedStack, free_port
from tracer_stream.tasks import Task

LABELS = ["billing", "card", "other"]
EMBEDDER = "hash:64"


def label_of(text: str) -> str:
    """What the fake LLM answers: a label that depends on the text only."""
    return LABELS[sum(text.encode()) % len(LABELS)]


@dataclass
class FaultDeployment:
    """One scenario's world (see the module docstring)."""

    root: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    with_trainer: bool = False
    stack: EmbeddedStack = field(init=False)
    llm: FakeLLMServer = field(init=False)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    task: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:6]}")
    sent: dict[str, bytes] = field(default_factory=dict)
    _producer: Producer | None = None
    _starts: int = 0

    def __post_init__(self) -> None:
        self.stack = EmbeddedStack(self.root / "stack", kafka_port=free_port(),
                                   redis_port=free_port())
        self.stack.up()
        ensure_topics(self.stack.kafka, self.stack.topics)
        self.llm = FakeLLMServer("openai", responder=self.answer).start()
        self._register_task()

    def _register_task(self) -> None:
        registry = Registry.from_settings(self.stack.redis)
        try:
            registry.put_task(Task(name=self.task, labels=LABELS, audit_rate=0.0,
                                   embedder=EMBEDDER))
        finally:
            registry.close()

    def new_scenario(self) -> None:
        """A task, requests and an LLM of the next scenario's own (see the module docstring)."""
        self.task = f"faults-{uuid.uuid4().hex[:6]}"
        self.sent = {}
        self.mode = "ok"
        self._register_task()

    def check_healthy(self) -> None:
        """Every service started is running; a dead one is restarted, then reported."""
        dead = [name for name, proc in self.services.items() if not proc.alive()]
        logs = self.logs() if dead else ""
        for name in dead:
            self.start(name)
        assert not dead, f"the scenario left {dead} dead\n{logs}"

    # -- the LLM ----------------------------------------------------------------------------
    mode: str = "ok"
    """``ok``, ``rate_limited``, ``server_error``, ``hang``, ``slow``, ``garbage``."""
    misbehaved: int = 0
    """LLM calls answered in a mode other than ``ok``."""

    def answer(self, body: dict[str, Any]) -> Reply:
        if self.mode != "ok":
            self.misbehaved += 1
        if self.mode == "rate_limited":
            return Reply(status=429, headers={"Retry-After": "1"})
        if self.mode == "server_error":
            return Reply(status=503)
        if self.mode == "hang":
            return Reply("card", delay_s=30.0)
        if self.mode == "slow":
            return Reply(label_of(orjson.dumps(body).decode()), delay_s=4.0)
        if self.mode == "garbage":
            return Reply("I would rather talk about the weather")
        return Reply(label_of(orjson.dumps(body).decode()))

    # -- processes --------------------------------------------------------------------------
    def env(self, service: str = "router") -> dict[str, str]:
        """The environment of ``service``: only the trainer holds the model signing key."""
        keys = {**VERIFIER_ENV, **(SIGNER_ENV if service == "trainer" else {})}
        settings = {**keys,
            "TRACER_STREAM_ROUTER_EMBEDDER": EMBEDDER,
            "TRACER_STREAM_WORKER_BACKEND": "openai",
            "TRACER_STREAM_WORKER_BASE_URL": self.llm.base_url,
            "TRACER_STREAM_WORKER_MODEL": "fake-model",
            "TRACER_STREAM_WORKER_TIMEOUT_S": "2",
            "TRACER_STREAM_WORKER_MAX_RETRIES": "2",
            "TRACER_STREAM_WORKER_BACKOFF_BASE_S": "0.2",
            "TRACER_STREAM_WORKER_BACKOFF_MAX_S": "1",
            "TRACER_STREAM_TRAINER_REFIT_CHECK_INTERVAL_S": "2",
            "TRACER_STREAM_STATE_DIR": str(self.root / "state"),
            # probes on free ports: scenarios and other test runs must not collide
            "TRACER_STREAM_ROUTER_HTTP_PORT": "0",
            "TRACER_STREAM_WORKER_HTTP_PORT": "0",
            "TRACER_STREAM_TRAINER_HTTP_PORT": "0",
        }
        return env_with({**os.environ, **self.stack.env()}, **(settings | self.env_extra))

    def start(self, service: str) -> ServiceProcess:
        self._starts += 1
        log = self.root / f"{service}-{self._starts}.log"
        proc = ServiceProcess([service], self.env(service), log)
        self.services[service] = proc
        return proc

    def start_all(self) -> None:
        for service in ("router", "worker", *(("trainer",) if self.with_trainer else ())):
            self.start(service)

    def kill(self, service: str) -> None:
        self.services[service].kill()

    def restart_redis(self) -> None:
        """Stop Redis (SIGTERM) and start it again on the same port and state directory."""
        pid = self.stack.status().redis_pid
        assert pid is not None, "redis is not running"
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: self.stack.status().redis_pid is None, 10, what="redis stopped")
        self.stack.up()

    def pause(self, what: str, seconds: float) -> None:
        """SIGSTOP the broker or Redis for ``seconds``, then SIGCONT."""
        status = self.stack.status()
        pid = status.kafka_pid if what == "broker" else status.redis_pid
        assert pid is not None, f"{what} is not running"
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)

    # -- traffic ----------------------------------------------------------------------------
    def send(self, n: int, prefix: str = "r", **fields: Any) -> list[str]:
        """Produce ``n`` valid requests; returns their ids."""
        ids = [f"{prefix}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
        for request_id in ids:
            doc = {"schema_version": 1, "request_id": request_id, "task": self.task,
                   "text": f"request {request_id} about my card and my bill", **fields}
            self.send_raw(request_id, orjson.dumps(doc))
        self.flush()
        return ids

    def send_raw(self, request_id: str, payload: bytes) -> None:
        """Produce one record keyed by ``request_id`` (payload as given, maybe poison)."""
        if self._producer is None:
            self._producer = Producer(self.stack.kafka)
        self.sent[request_id] = payload
        self._producer.send_raw(self.stack.topics.name("requests"), payload, key=request_id)

    def flush(self) -> None:
        assert self._producer is not None
        self._producer.flush_or_raise(60.0)

    def ledger(self) -> Ledger:
        return Ledger(self.stack.kafka, self.stack.topics, self.sent)

    def settle(self, timeout_s: float = 180.0) -> Ledger:
        """Wait until every request sent has an outcome (or the timeout), then read the
        ledger once more after a quiet second (to catch late second outcomes)."""
        ledger = self.ledger()
        with contextlib.suppress(AssertionError):  # the ledger reports what is lost
            wait_until(lambda: ledger.poll() and not ledger.missing(), timeout_s,
                       interval_s=0.5, what="an outcome for every request")
        time.sleep(1.0)
        ledger.poll()
        return ledger

    def close(self) -> None:
        """Stop the services side by side, then the LLM; the broker and Redis are killed (the
        deployment is thrown away: nothing of theirs needs to be kept)."""
        if self._producer is not None:
            self._producer.close()
        for proc in self.services.values():
            proc.terminate()
        for proc in self.services.values():
            proc.stop()
        self.llm.stop()
        status = self.stack.status()
        for pid in (status.kafka_pid, status.redis_pid):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.stack.down()

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.output()[-3000:]}"
                         for p in self.services.values())


@contextmanager
def deployment(root: Path, **kwargs: Any) -> Iterator[FaultDeployment]:
    dep = FaultDeployment(root, **kwargs)
    try:
        yield dep
    finally:
        dep.close()
