"""Task definitions for the worker, cached so that a Redis outage does not stop known tasks.

The worker sees a changed or deleted task within ``refresh_s`` (2 s by default) on its own: a
cached task older than that is read again (one Redis GET of the task's definition, the same
cost as a GET of a version stamp for a task definition of a few KiB). A change feed can make it
faster by calling :meth:`TaskCache.invalidate`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from pydantic import ValidationError

from tracer_stream.errors import RegistryError
from tracer_stream.obs.redis_metrics import RedisObserver, ignore
from tracer_stream.tasks import Task

log = logging.getLogger(__name__)


class RegistryUnavailable(RegistryError):
    """Redis cannot be reached and the task is not cached: it is unknown whether it exists."""


class TaskReader(Protocol):
    """Where task definitions come from (:class:`tracer_stream.registry.Registry`)."""

    def get_task(self, name: str) -> Task | None: ...


class TaskSource(Protocol):
    """What the worker needs of a task store: read a task, and forget a cached one."""

    def fresh(self, name: str) -> bool:
        """True when :meth:`get` answers from memory (no I/O)."""
        ...

    def get(self, name: str) -> Task | None:
        """The task, None when it does not exist; :class:`RegistryUnavailable` when that
        cannot be known."""
        ...

    def invalidate(self, name: str) -> None:
        """Read ``name`` from the registry on its next use (a task-change feed calls this)."""
        ...


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
    a form that no longer validates) is ``None``. Every read reports its outcome to
    ``observe("task_read", ok)``.
    """

    def __init__(self, registry: TaskReader, refresh_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 observe: RedisObserver = ignore) -> None:
        self.registry = registry
        self.observe = observe
        self.refresh_s = refresh_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def fresh(self, name: str) -> bool:
        entry = self._entries.get(name)
        return entry is not None and self._clock() - entry.fetched_at < self.refresh_s

    def invalidate(self, name: str) -> None:
        """Re-read ``name`` at its next :meth:`get` (kept as a fallback while Redis is down).
        Thread-safe: called from the task watch's thread."""
        entry = self._entries.get(name)
        if entry is not None:
            entry.fetched_at = float("-inf")

    def get(self, name: str) -> Task | None:
        if self.fresh(name):
            return self._entries[name].task
        entry = self._entries.get(name)
        try:
            task = self.registry.get_task(name)
        except redis.RedisError as exc:
            self.observe("task_read", False)
            if entry is not None:
                log.warning("registry unreachable (%s); serving cached task %s",
                            type(exc).__name__, name)
                return entry.task
            raise RegistryUnavailable(f"cannot read task {name!r}: {type(exc).__name__}",
                                      task=name) from None
        except ValidationError as exc:
            log.error("task %s in the registry is invalid: %s", name, exc.errors()[:1])
            task = None
        self.observe("task_read", True)
        if task is None:
            self._entries.pop(name, None)
            return None
        self._entries[name] = _Entry(task, self._clock())
        return task


__all__ = ["RegistryUnavailable", "TaskCache", "TaskReader", "TaskSource"]
