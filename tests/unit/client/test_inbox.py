"""The client's reply inbox: correlation by request id only, late and foreign replies dropped,
a read failure reaches every waiting and later request."""

from __future__ import annotations

import asyncio

import pytest

from tracer_stream.client.inbox import ReplyInbox
from tracer_stream.contracts import RoutedLabel
from tracer_stream.errors import BusError


def label(request_id: str, value: str = "card") -> RoutedLabel:
    return RoutedLabel(request_id=request_id, task="t", label=value, source="surrogate")


def test_replies_reach_only_their_request_and_only_once() -> None:
    async def main() -> None:
        inbox = ReplyInbox()
        first, second = inbox.expect("a"), inbox.expect("b")
        assert not inbox.deliver(label("someone-elses"))  # another client's reply
        assert inbox.deliver(label("b", "weather"))
        assert not inbox.deliver(label("b", "travel"))  # an at-least-once duplicate
        assert (await second).label == "weather" and not first.done()
        inbox.forget("b")
        assert not inbox.deliver(label("b"))  # late: nobody waits any more
        with pytest.raises(ValueError, match="already in flight"):
            inbox.expect("a")
        inbox.forget("a")
        assert first.cancelled() and inbox.in_flight == 0

    asyncio.run(main())


def test_a_read_failure_fails_waiting_and_later_requests() -> None:
    async def main() -> None:
        inbox = ReplyInbox()
        waiting = inbox.expect("a")
        inbox.fail(BusError("reading the reply topic failed"))
        with pytest.raises(BusError, match="reply topic"):
            await waiting
        with pytest.raises(BusError, match="reply topic"):
            inbox.expect("b")

    asyncio.run(main())
