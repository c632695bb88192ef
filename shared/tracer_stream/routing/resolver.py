"""Finding the state of a task a batch names: from the holder's snapshot, else (a task applied
since the last refresh) straight from the registry, else "unknown" — or "unreachable" while
Redis is down."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping

import redis

from tracer_stream.routing.guard import RedisGuard
from tracer_stream.routing.loader import StateLoader
from tracer_stream.routing.state import ModelHolder, TaskState


class Missing(enum.Enum):
    UNKNOWN = "unknown"
    """The registry has no such task."""
    UNREACHABLE_SEEN = "unreachable_seen"
    """Redis is down, the task was seen before but nothing usable is in memory."""
    UNREACHABLE_UNSEEN = "unreachable_unseen"
    """Redis is down and the task was never seen."""


class TaskResolver:
    """Resolves task names to states; remembers unknown names for ``negative_ttl_s``."""

    def __init__(self, holder: ModelHolder, loader: StateLoader, guard: RedisGuard, *,
                 negative_ttl_s: float = 1.0) -> None:
        self._holder = holder
        self._loader = loader
        self._guard = guard
        self._negative_ttl_s = negative_ttl_s
        self._unknown_until: dict[str, float] = {}
        self.ever_seen: set[str] = set()

    def resolve(self, names: set[str], snapshot: Mapping[str, TaskState]
                ) -> dict[str, TaskState | Missing]:
        """State (or why there is none) for every name."""
        self.ever_seen.update(snapshot)
        now = time.monotonic()
        out: dict[str, TaskState | Missing] = {}
        for name in names:
            state = snapshot.get(name)
            if state is not None:
                out[name] = state
            elif self._unknown_until.get(name, 0.0) > now:
                out[name] = Missing.UNKNOWN
            else:
                out[name] = self._load(name, now)
        return out

    def _load(self, name: str, now: float) -> TaskState | Missing:
        if not self._guard.available:
            return self._unreachable(name)
        try:
            state = self._loader.load(name)
        except redis.RedisError as exc:
            self._guard.failed(exc, "task_load")
            return self._unreachable(name)
        self._guard.succeeded("task_load")
        if state is None:
            self._unknown_until[name] = now + self._negative_ttl_s
            if len(self._unknown_until) > 10_000:  # garbage names must not grow memory
                self._unknown_until = {k: v for k, v in self._unknown_until.items() if v > now}
            return Missing.UNKNOWN
        self._holder.put(state)
        self.ever_seen.add(name)
        return state

    def _unreachable(self, name: str) -> Missing:
        return Missing.UNREACHABLE_SEEN if name in self.ever_seen else Missing.UNREACHABLE_UNSEEN
