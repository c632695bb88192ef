"""Every Redis use of the services against a real redis-server that is paused (SIGSTOP) and
then stopped: each call returns (well within a generous bound that only catches a hang) with
its fallback, and the failure shows in ``redis_errors_total{operation}`` and ``redis_up``.
The table of these uses is in docs/infrastructure.md."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tracer_stream.config import RedisSettings
from tracer_stream.labelling import OutcomeLog, TaskCache
from tracer_stream.obs import RedisHealth
from tracer_stream.registry import Registry, TaskWatch
from tracer_stream.routing import Deduper, EmbeddingCache, RedisGuard
from tracer_stream.tasks import Task
from tracer_stream.training.backoff import RedisCalls

pytestmark = pytest.mark.integration

HANG_S = 15.0
"""Far above every call's own bound (one socket timeout, 0.5 s here; a refused connection's
two retries, 0.3 s): only a call that blocks indefinitely exceeds it."""


def _ran(fn: Callable[..., None], *args: object) -> bool:
    """Calls whose fallback is to do nothing: they return, and that is all."""
    fn(*args)
    return True


class Uses:
    """One instance of every component that calls Redis, all reporting to one metric set."""

    def __init__(self, url: str) -> None:
        self.client = RedisSettings(url=SecretStr(url), socket_timeout_s=0.5).client()
        self.metrics = CollectorRegistry()
        observe = RedisHealth("t", self.metrics).observe
        self.registry = Registry(self.client, "t:")
        self.registry.put_task(Task(name="intents", labels=["a", "b"], embedder="hash:8"))
        self.outcomes = OutcomeLog(self.client, prefix="t:", observe=observe)
        self.tasks = TaskCache(self.registry, refresh_s=0.0, observe=observe)
        guard = RedisGuard(pause_s=0.0, observe=observe)
        self.dedupe = Deduper(self.client, guard, prefix="t:")
        self.cache = EmbeddingCache(self.client, guard, prefix="t:")
        self.calls = RedisCalls(observe)
        self.changed: list[str] = []
        self.watch = TaskWatch(self.registry, self.changed.append, poll_s=0.2, observe=observe)
        assert self.tasks.get("intents") is not None  # cached: served through an outage

    def cases(self) -> dict[str, Callable[[], bool]]:
        """Operation → a call that must return its fallback while Redis is away."""
        record = ("intents", "r-1", "t/0/1")
        row = np.ones((1, 8), dtype=np.float32)
        return {
            "outcome_read": lambda: self.outcomes.answered(record) is False,
            "outcome_mark": lambda: self.outcomes.mark([(record, "label")]) is False,
            "task_read": lambda: self.tasks.get("intents") is not None,
            "dedupe_read": lambda: self.dedupe.seen([("intents", "r-1")]) == [False],
            "dedupe_mark": lambda: _ran(self.dedupe.mark, [("intents", "r-1")]),
            "embedding_cache_read": lambda: self.cache.get_many("h", ["x"], 8) == [None],
            "embedding_cache_write": lambda: _ran(self.cache.put_many, "h", ["x"], row),
            "heartbeat": lambda: self.calls.run("heartbeat", self.client.ping) is False,
        }

    def errors(self, operation: str) -> float:
        return self.metrics.get_sample_value("t_redis_errors_total",
                                             {"operation": operation}) or 0.0

    def up(self) -> float | None:
        return self.metrics.get_sample_value("t_redis_up")

    def check_all_fail_within_bound(self) -> None:
        for operation, call in self.cases().items():
            before = self.errors(operation)
            started = time.monotonic()
            assert call(), operation
            assert time.monotonic() - started < HANG_S, f"{operation} hung"
            assert self.errors(operation) == before + 1, operation
            assert self.up() == 0.0, operation

    def close(self) -> None:
        self.watch.stop()
        self.client.close()


def test_every_redis_use_returns_and_counts_while_redis_is_paused_or_gone(
        own_redis: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = own_redis
    uses = Uses(url)
    try:
        uses.watch.start()
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            uses.check_all_fail_within_bound()
            deadline = time.monotonic() + HANG_S  # the watch thread polls on its own
            while uses.errors("task_watch") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert uses.errors("task_watch") >= 1
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        record = ("intents", "r-2", "t/0/2")
        assert uses.outcomes.mark([(record, "label")]) and uses.outcomes.answered(record)
        assert uses.up() == 1.0
        deadline = time.monotonic() + HANG_S  # the heartbeat's backoff ends, then it runs
        while not uses.calls.run("heartbeat", uses.client.ping) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.terminate()  # gone: connections refused, retried with backoff, then given up
        proc.wait(10)
        uses.check_all_fail_within_bound()
    finally:
        uses.close()
