"""The task change feed: tells a service within about a second which tasks were applied.

:meth:`Registry.put_task` (``tracer-stream task apply``) bumps the task's counter in
``P task-versions`` and publishes its name on ``P task-changes``. A :class:`TaskWatch` runs one
daemon thread that is woken by that pub/sub message and, as a fallback for a message lost while
the connection was down, polls the counters every ``poll_s`` seconds (one ``HGETALL``). For
each task whose counter moved it calls ``on_change(name)`` once, from its own thread, so the
callback must be cheap and thread-safe (invalidate a cache entry, set an event)::

    watch = TaskWatch(registry, cache.invalidate, poll_s=1.0).start()   # baseline read here
    ...
    watch.stop()

While Redis is unreachable the thread retries every ``poll_s``; counters that moved meanwhile
are reported on the first successful poll. Each poll's outcome is reported to
``observe("task_watch", ok)`` (the service's ``redis_errors_total`` / ``redis_up``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from tracer_stream.obs.redis_metrics import RedisObserver, ignore
from tracer_stream.registry.store import Registry

log = logging.getLogger(__name__)
OPERATION = "task_watch"


class TaskWatch:
    """Calls ``on_change(task_name)`` for every task applied after :meth:`start`."""

    def __init__(self, registry: Registry, on_change: Callable[[str], None], *,
                 poll_s: float = 1.0, observe: RedisObserver = ignore) -> None:
        self.registry = registry
        self.on_change = on_change
        self.observe = observe
        self.poll_s = poll_s
        self._versions: dict[str, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[str]:
        """Read the counters now; call ``on_change`` for (and return) the tasks applied since
        the last read. The first read only sets the baseline. Redis errors propagate."""
        versions = self.registry.task_versions()
        previous, self._versions = self._versions, versions
        if previous is None:
            return []
        changed = sorted(n for n, v in versions.items() if previous.get(n) != v)
        for name in changed:
            log.info("task %s was applied; re-reading it", name)
            self.on_change(name)
        return changed

    def start(self) -> TaskWatch:
        """Take the baseline (best effort) and start the thread."""
        try:
            self.check()
        except redis.RedisError as exc:
            self.observe(OPERATION, False)
            log.warning("task watch: cannot read the task versions yet (%s)", exc)
        self._thread = threading.Thread(target=self._run, daemon=True, name="task-watch")
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        pubsub: Any = None
        failing = False
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self.registry.client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.registry.task_channel)
                self._wait(pubsub)
                self.check()
                self.observe(OPERATION, True)
                if failing:
                    log.info("task watch: registry reachable again")
                failing = False
            except redis.RedisError as exc:
                self.observe(OPERATION, False)
                if not failing:
                    log.warning("task watch: registry unreachable (%s); retrying", exc)
                failing = True
                _close(pubsub)
                pubsub = None
                self._stop.wait(self.poll_s)
            except Exception:  # a failing callback must not end the watch
                log.exception("task watch: change handler failed")
                self._stop.wait(self.poll_s)
        _close(pubsub)

    def _wait(self, pubsub: Any) -> None:
        """Until a task-change message arrives, ``poll_s`` passes, or stop."""
        deadline = time.monotonic() + self.poll_s
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if pubsub.get_message(timeout=min(0.2, left)) is not None:
                return


def _close(pubsub: Any) -> None:
    if pubsub is not None:
        with contextlib.suppress(redis.RedisError):
            pubsub.close()
