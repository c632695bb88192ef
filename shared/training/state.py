"""The trainer's small operational state in Redis, next to the registry.

Key layout (``P`` is the Redis key prefix, default ``tracer:``)::

    P trainer:alive                  set with a TTL by a running trainer (its heartbeat)
    P trainer:refit-requests         hash task → trigger ("manual", "drift:<detector>", ...)
    P trainer:{task}:gate-tests      counter k of gate tests run (δ-spending index)
    P trainer:{task}:last-refit      hash: seq (store size it saw), at (unix time), outcome, trigger
    P trainer:{task}:monitor         live monitor state (JSON), see training.guard
    P trainer:{task}:lock            held while a refit of the task runs

The trace store itself is on disk; everything here can be lost without losing a trace (a lost
gate-test counter restarts δ-spending at k = 1, which is why it lives next to the versions).
"""

from __future__ import annotations

import time
from typing import Any

import redis


class TrainerState:
    """Accessors for the keys above."""

    def __init__(self, client: redis.Redis, prefix: str = "tracer:") -> None:
        self.client = client
        self.prefix = prefix

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(("trainer", *parts))

    # liveness ----------------------------------------------------------------------------
    def beat(self, ttl_s: int = 15) -> None:
        self.client.set(self._k("alive"), str(time.time()), ex=ttl_s)

    def trainer_alive(self) -> bool:
        return bool(self.client.exists(self._k("alive")))

    def clear_beat(self) -> None:
        self.client.delete(self._k("alive"))

    # refit requests ----------------------------------------------------------------------
    def request_refit(self, task: str, trigger: str, *, urgent: bool = True) -> None:
        """Ask the running trainer to refit ``task``. An urgent request ("manual", "monitor")
        replaces a pending one; a drift request never replaces one."""
        key = self._k("refit-requests")
        if urgent:
            self.client.hset(key, task, trigger)
        else:
            self.client.hsetnx(key, task, trigger)

    def refit_requests(self) -> dict[str, str]:
        """Pending requests, task → trigger."""
        return {_text(k): _text(v)
                for k, v in self.client.hgetall(self._k("refit-requests")).items()}

    def clear_refit_request(self, task: str) -> None:
        self.client.hdel(self._k("refit-requests"), task)

    # refit bookkeeping -------------------------------------------------------------------
    def next_gate_test(self, task: str) -> int:
        """k of the gate test about to run (1 for the first)."""
        return int(self.client.incr(self._k(task, "gate-tests")))

    def gate_tests(self, task: str) -> int:
        return int(self.client.get(self._k(task, "gate-tests")) or 0)

    def record_refit(self, task: str, seq: int, outcome: str, trigger: str) -> None:
        self.client.hset(self._k(task, "last-refit"), mapping={
            "seq": seq, "at": time.time(), "outcome": outcome, "trigger": trigger})

    def last_refit(self, task: str) -> dict[str, Any]:
        """``{"seq": int, "at": float, "outcome": str, "trigger": str}`` (zeros and empty
        strings before the first refit)."""
        raw = self.client.hgetall(self._k(task, "last-refit"))
        if not raw:
            return {"seq": 0, "at": 0.0, "outcome": "", "trigger": ""}
        return {"seq": int(raw[b"seq"]), "at": float(raw[b"at"]),
                "outcome": _text(raw[b"outcome"]), "trigger": _text(raw[b"trigger"])}

    def lock(self, task: str, ttl_s: int = 3600) -> bool:
        """Take the task's refit lock; False when another refit holds it."""
        return bool(self.client.set(self._k(task, "lock"), str(time.time()), nx=True, ex=ttl_s))

    def unlock(self, task: str) -> None:
        self.client.delete(self._k(task, "lock"))

    # live monitor ------------------------------------------------------------------------
    def save_monitor(self, task: str, blob: bytes) -> None:
        self.client.set(self._k(task, "monitor"), blob)

    def load_monitor(self, task: str) -> bytes | None:
        raw = self.client.get(self._k(task, "monitor"))
        if raw is None:
            return None
        return raw if isinstance(raw, bytes) else raw.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
