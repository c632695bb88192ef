"""Redis calls of the trainer: backoff, metrics callbacks, retry until done, interruption."""

from __future__ import annotations

import threading

import pytest
import redis

from tracer_stream.training.backoff import RedisCalls


class Flaky:
    """Fails ``failures`` times with a Redis timeout, then returns ``value``."""

    def __init__(self, failures: int, value: str = "done") -> None:
        self.failures, self.value, self.calls = failures, value, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise redis.TimeoutError("Timeout reading from socket")
        return self.value


def test_a_failure_is_observed_and_backs_the_operation_off_alone() -> None:
    seen: list[tuple[str, bool]] = []
    calls = RedisCalls(lambda op, ok: seen.append((op, ok)))
    flaky = Flaky(1)
    assert calls.call("heartbeat", flaky) is None
    assert calls.call("heartbeat", flaky) is None and flaky.calls == 1  # backing off
    assert calls.run("schedule", lambda: None)  # other operations still run
    assert seen == [("heartbeat", False), ("schedule", True)]


def test_until_done_retries_after_the_backoff_and_resets_it() -> None:
    calls = RedisCalls()
    calls.backoff["ingest"].first_s = 0.01
    flaky = Flaky(3)
    assert calls.until_done("ingest", flaky) == "done" and flaky.calls == 4
    assert calls.backoff["ingest"].failures == 0


def test_until_done_stops_when_the_trainer_closes() -> None:
    closing = threading.Event()
    closing.set()
    calls = RedisCalls(closing=closing)
    with pytest.raises(InterruptedError):
        calls.until_done("ingest", Flaky(10**6))


def test_errors_other_than_redis_are_not_swallowed() -> None:
    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        RedisCalls().call("gauges", broken)
