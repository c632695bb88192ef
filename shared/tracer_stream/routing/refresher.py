"""Keeps the :class:`ModelHolder` current: on every model announcement (``promote``,
``rollback``, ``open_gate``, ``close_gate``, ``audit_boost``), on :meth:`ModelRefresher.wake`
(a task was applied) and, as a fallback, every
``interval_s`` seconds, it re-reads each task's current version, gate state and audit boost
from the registry and swaps the new mapping in. It runs in a background thread so that loading a
model never stalls the batch in flight; batches pick the new mapping up at their next snapshot.

While Redis is down it keeps what it knew. A ``close_gate`` announcement is applied from the
message itself, so a gate can be closed even when the registry is unreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import redis

from tracer_stream.contracts import ModelAnnounce
from tracer_stream.routing.guard import RedisGuard
from tracer_stream.routing.loader import StateLoader
from tracer_stream.routing.state import ModelHolder, TaskState

log = logging.getLogger(__name__)

AnnounceSource = Callable[[float], Sequence[ModelAnnounce]]
"""``poll(timeout_s)`` → the announcements that arrived (possibly none)."""


class ModelRefresher:
    """Reloads task states on announcements and on a timer."""

    def __init__(self, holder: ModelHolder, loader: StateLoader, guard: RedisGuard, *,
                 announcements: AnnounceSource | None = None, interval_s: float = 5.0) -> None:
        self.holder = holder
        self.loader = loader
        self.guard = guard
        self._announcements = announcements
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Re-read the registry now (a task was applied: see
        :class:`~tracer_stream.registry.TaskWatch`); callable from any thread."""
        self._wake.set()

    def refresh(self) -> bool:
        """Re-read every registered task now; False (and nothing changed) if Redis failed."""
        if not self.guard.available:
            return False
        current = self.holder.snapshot()
        try:
            names = set(self.loader.task_names()) | set(current)
            fresh: dict[str, TaskState] = {}
            for name in sorted(names):
                state = self.loader.load(name, current.get(name))
                if state is not None:
                    fresh[name] = state
        except redis.RedisError as exc:
            self.guard.failed(exc, "model_refresh")
            if not self.holder.loaded:
                self.holder.replace_all(current)  # nothing to load: ready to defer
            return False
        self.guard.succeeded("model_refresh")
        self.holder.replace_all(fresh)
        return True

    def apply(self, announce: ModelAnnounce) -> None:
        """Act on one announcement: a ``close_gate`` closes the gate at once, from the message
        itself; every action is then confirmed by re-reading the registry."""
        log.info("announce %s %s %s", announce.task, announce.action, announce.version or "")
        state = self.holder.snapshot().get(announce.task)
        if announce.action == "close_gate" and state is not None:
            self.holder.put(state.with_gate(False, announce.reason or "close_gate"))

    def run(self) -> None:
        """Until :meth:`stop`: wait up to ``interval_s`` for announcements, apply them, re-read
        the registry. (Call :meth:`refresh` once before, for the initial load.)"""
        while not self._stop.is_set():
            try:
                for announce in self._wait():
                    self.apply(announce)
                if not self._stop.is_set():
                    self.refresh()
            except Exception:  # keep refreshing; the router serves with what it has
                log.exception("model refresh failed")
                self._stop.wait(self.interval_s)

    def _wait(self) -> Sequence[ModelAnnounce]:
        if self._announcements is None:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            return ()
        deadline = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.is_set():
                self._wake.clear()
                return ()
            got = self._announcements(min(0.25, left))
            if got:
                return got
        return ()

    def start(self) -> ModelRefresher:
        self._thread = threading.Thread(target=self.run, daemon=True, name="model-refresher")
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
