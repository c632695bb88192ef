"""Correlating replies with requests by ``request_id`` on a reply topic many clients share.

A reply topic is shared by every client of an application, and a client starts reading it at
the end offset the broker reports, which may lag the real end (the embedded broker reports a
partition's end before its last batch), so a client sees old replies and replies to other
clients. None of that matters: a reply is handed over only when its ``request_id`` is one this
client is waiting for, and only once; everything else is dropped. Positions are never trusted.

>>> import asyncio
>>> from tracer_stream.contracts import RoutedLabel
>>> async def demo() -> str:
...     inbox = ReplyInbox()
...     mine = inbox.expect("r1")
...     inbox.deliver(RoutedLabel(request_id="other", task="t", label="x", source="llm"))
...     inbox.deliver(RoutedLabel(request_id="r1", task="t", label="card", source="llm"))
...     return (await mine).label
>>> asyncio.run(demo())
'card'
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tracer_stream.contracts import RoutedLabel
from tracer_stream.errors import TracerStreamError


class ClassifyTimeout(TracerStreamError):
    """No label arrived in time. The request may have been dead-lettered (unknown task, text
    too long...): see the dead-letter topic for its ``request_id``."""

    def __init__(self, message: str, *, missing: Sequence[str], **context: object) -> None:
        super().__init__(message, missing=list(missing)[:5], **context)
        self.missing = list(missing)


class ReplyInbox:
    """The futures of the requests a client waits for, by request id (one event loop)."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[RoutedLabel]] = {}
        self._failure: BaseException | None = None

    def expect(self, request_id: str) -> asyncio.Future[RoutedLabel]:
        """Announce a request before it is produced (so its reply cannot be missed)."""
        if self._failure is not None:
            raise self._failure
        if request_id in self._waiting:
            raise ValueError(f"request id {request_id!r} is already in flight")
        future: asyncio.Future[RoutedLabel] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        """Stop waiting (answered, timed out or cancelled); a late reply is dropped."""
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.cancel()

    def deliver(self, label: RoutedLabel) -> bool:
        """Hand ``label`` to its waiting request; False when nobody here waits for it."""
        future = self._waiting.get(label.request_id)
        if future is None or future.done():
            return False
        future.set_result(label)
        return True

    def fail(self, error: BaseException) -> None:
        """The replies can no longer be read: every waiting and later request gets ``error``."""
        self._failure = error
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)

    @property
    def in_flight(self) -> int:
        return len(self._waiting)
