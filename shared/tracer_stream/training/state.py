"""The trainer's small operational state in Redis, next to the registry.

Key layout (``P`` is the Redis key prefix, default ``tracer:``)::

    P trainer:alive                  set with a TTL by a running trainer (its heartbeat)
    P trainer:refit-requests         hash task → trigger ("manual")
    P trainer:{task}:gate-tests      counter k of gate tests run (δ-spending index)
    P trainer:{task}:last-refit      hash: seq (store size it saw), at (unix time), outcome, trigger
    P trainer:{task}:monitor         live monitor state (JSON), see training.live_guard
    P trainer:{task}:deployments     counter bumped by every make_current (a fresh monitor)
    P trainer:{task}:monitors        counter k of live monitors started (δ-spending index)
    P trainer:{task}:epoch           calibration epoch: start (first store seq of the epoch),
                                     at, trigger, reason, pending (0/1), n_cal (held-out traces
                                     stored since the start; a refit trigger, not a count the
                                     gate relies on)
    P trainer:{task}:lock            held while a refit of the task runs
    P trainer:{task}:definition      SHA-256 of the task definition refits last fitted for
                                     (:func:`tracer_stream.tasks.binding.definition_sha256`)

The trace store itself is on disk; everything here can be lost without losing a trace (a lost
gate-test or monitor counter restarts δ-spending at k = 1, which is why they live next to the
versions;
a lost epoch makes refits calibrate on every held-out trace again, as before the alarm).
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
    def request_refit(self, task: str, trigger: str) -> None:
        """Ask the running trainer to refit ``task`` (replaces a pending request)."""
        self.client.hset(self._k("refit-requests"), task, trigger)

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

    # calibration epochs ------------------------------------------------------------------
    def epoch(self, task: str) -> dict[str, Any]:
        """``{"start": int, "at": float, "trigger": str, "reason": str, "pending": bool,
        "n_cal": int}``; before any alarm the epoch starts at seq 1 and is not pending."""
        raw = self.client.hgetall(self._k(task, "epoch"))
        if not raw:
            return {"start": 1, "at": 0.0, "trigger": "", "reason": "", "pending": False,
                    "n_cal": 0}
        return {"start": int(raw[b"start"]), "at": float(raw[b"at"]),
                "trigger": _text(raw[b"trigger"]), "reason": _text(raw[b"reason"]),
                "pending": raw[b"pending"] == b"1", "n_cal": int(raw.get(b"n_cal", b"0"))}

    def start_epoch(self, task: str, start: int, trigger: str, reason: str) -> bool:
        """Start a calibration epoch at store seq ``start`` unless one is pending (started by
        an earlier alarm and not yet served by a version calibrated in it). True if started."""
        if self.epoch(task)["pending"]:
            return False
        self.client.hset(self._k(task, "epoch"), mapping={
            "start": start, "at": time.time(), "trigger": trigger, "reason": reason,
            "pending": 1, "n_cal": 0})
        return True

    def follow_definition(self, task: str, digest: str, start: int) -> bool:
        """Record the task definition refits fit for. When it differs from the one recorded
        (``task apply`` changed labels or prompt), start a calibration epoch at store seq
        ``start`` even over a pending one: traces labelled under the old definition must not
        calibrate a model of the new one. True when it changed."""
        key = self._k(task, "definition")
        previous = self.client.getset(key, digest)
        if previous is None or _text(previous) == digest:
            return False
        self.client.hset(self._k(task, "epoch"), mapping={
            "start": start, "at": time.time(), "trigger": "task_changed",
            "reason": "the task's labels or prompt changed", "pending": 1, "n_cal": 0})
        return True

    def count_epoch_calibration(self, task: str, n: int) -> None:
        """Add ``n`` held-out traces stored in the current epoch (the refit trigger's count)."""
        if n and self.client.exists(self._k(task, "epoch")):
            self.client.hincrby(self._k(task, "epoch"), "n_cal", n)

    def settle_epoch(self, task: str) -> None:
        """A version calibrated in the epoch serves now: the next alarm starts a new one."""
        if self.client.exists(self._k(task, "epoch")):
            self.client.hset(self._k(task, "epoch"), "pending", 0)

    # live monitor ------------------------------------------------------------------------
    def mark_deployment(self, task: str) -> int:
        """A version was made current (promoted, rolled back or re-promoted): the live guard
        starts a fresh monitor. Returns the new deployment counter."""
        return int(self.client.incr(self._k(task, "deployments")))

    def deployment(self, task: str) -> int:
        return int(self.client.get(self._k(task, "deployments")) or 0)

    def next_monitor(self, task: str) -> int:
        """k of the live monitor about to start (1 for the first): it tests at δₖ."""
        return int(self.client.incr(self._k(task, "monitors")))

    def save_monitor(self, task: str, blob: bytes) -> None:
        self.client.set(self._k(task, "monitor"), blob)

    def load_monitor(self, task: str) -> bytes | None:
        raw = self.client.get(self._k(task, "monitor"))
        if raw is None:
            return None
        return raw if isinstance(raw, bytes) else raw.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
