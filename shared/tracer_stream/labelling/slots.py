"""Bounds on concurrent LLM calls: one for the whole process and one per task, so that one
busy task cannot take every slot. The wait for a slot is measured apart from the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class CallSlots:
    """At most ``total`` calls in flight, and at most ``per_task`` of them for one task.

    >>> async def demo() -> tuple[int, int]:
    ...     slots = CallSlots(total=2, per_task=1)
    ...     async with slots.hold("a"):
    ...         return slots.busy, slots.busy_for("a")
    >>> asyncio.run(demo())
    (1, 1)
    """

    def __init__(self, total: int, per_task: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if total < 1 or per_task < 1:
            raise ValueError(f"slot bounds must be >= 1, got total={total}, per_task={per_task}")
        self.total = total
        self.per_task = min(per_task, total)
        self._global = asyncio.Semaphore(total)
        self._tasks: dict[str, asyncio.Semaphore] = {}
        self._busy: dict[str, int] = {}
        self._clock = clock

    @property
    def busy(self) -> int:
        """Calls holding a slot now."""
        return sum(self._busy.values())

    def busy_for(self, task: str) -> int:
        return self._busy.get(task, 0)

    @asynccontextmanager
    async def hold(self, task: str) -> AsyncIterator[float]:
        """Wait for a slot of ``task`` (then a global one); yields the seconds waited."""
        start = self._clock()
        per_task = self._tasks.setdefault(task, asyncio.Semaphore(self.per_task))
        async with per_task, self._global:
            self._busy[task] = self._busy.get(task, 0) + 1
            try:
                yield self._clock() - start
            finally:
                self._busy[task] -= 1


__all__ = ["CallSlots"]
