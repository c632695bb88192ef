"""Task definitions for the worker, cached so that a Redis outage does not stop known tasks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from pydantic import ValidationError

from tracer_stream.errors import RegistryError
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task

log = logging.getLogger(__name__)


class RegistryUnavailable(RegistryError):
    """Redis cannot be reached and the task is not cached: it is unknown whether it exists."""


@dataclass(slots=True)
class _Entry:
    task: Task
    fetched_at: float


class TaskCache:
    """``get(name)`` reads a task from the registry at most every ``refresh_s`` seconds, and at
    the next ``get`` after :meth:`invalidate` (wired to a
    :class:`~tracer_stream.registry.TaskWatch`, so a ``task apply`` is seen within ~1 s).

    A cached task keeps being served while Redis is unreachable. A task that is neither cached
    nor reachable raises :class:`RegistryUnavailable`; a task Redis does not hold (or holds in
    a form that no longer validates) is ``None``.
    """

    def __init__(self, registry: Registry, refresh_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.refresh_s = refresh_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def invalidate(self, name: str) -> None:
        """Re-read ``name`` at its next :meth:`get` (kept as a fallback while Redis is down).
        Thread-safe: called from the task watch's thread."""
        entry = self._entries.get(name)
        if entry is not None:
            entry.fetched_at = float("-inf")

    def get(self, name: str) -> Task | None:
        entry = self._entries.get(name)
        now = self._clock()
        if entry is not None and now - entry.fetched_at < self.refresh_s:
            return entry.task
        try:
            task = self.registry.get_task(name)
        except redis.RedisError as exc:
            if entry is not None:
                log.warning("registry unreachable (%s); serving cached task %s",
                            type(exc).__name__, name)
                return entry.task
            raise RegistryUnavailable(f"cannot read task {name!r}: {type(exc).__name__}",
                                      task=name) from None
        except ValidationError as exc:
            log.error("task %s in the registry is invalid: %s", name, exc.errors()[:1])
            task = None
        if task is None:
            self._entries.pop(name, None)
            return None
        self._entries[name] = _Entry(task, now)
        return task


__all__ = ["RegistryUnavailable", "TaskCache"]
