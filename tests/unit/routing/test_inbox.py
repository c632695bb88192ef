"""The client's reply inbox with a fake consumer: several waiters, duplicates, timeouts."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from tracer_stream.client import ClassifyTimeout
from tracer_stream.client.inbox import ReplyInbox
from tracer_stream.contracts import RoutedLabel, encode


@dataclass
class Msg:
    raw: bytes

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return self.raw

    def topic(self) -> str:
        return "replies"


class FakeConsumer:
    def __init__(self) -> None:
        self.queue: list[Msg] = []
        self.lock = threading.Lock()

    def push(self, request_id: str, label: str = "a") -> None:
        with self.lock:
            self.queue.append(Msg(encode(RoutedLabel(request_id=request_id, task="t",
                                                     label=label, source="llm"))))

    def consume(self, n: int, timeout: float) -> list[Msg]:
        with self.lock:
            out, self.queue = self.queue[:n], self.queue[n:]
        return out

    def poll(self, timeout: float) -> Msg | None:
        got = self.consume(1, timeout)
        if not got:
            threading.Event().wait(min(timeout, 0.01))
        return got[0] if got else None


def test_labels_are_collected_in_request_order_and_duplicates_dropped() -> None:
    consumer = FakeConsumer()
    inbox = ReplyInbox(consumer)
    inbox.expect(["a", "b"])
    consumer.push("b", "second")
    consumer.push("a", "first")
    consumer.push("a", "duplicate")
    consumer.push("stranger")
    got = inbox.collect(["a", "b"], timeout_s=2)
    assert [(g.request_id, g.label) for g in got] == [("a", "first"), ("b", "second")]


def test_concurrent_waiters_each_get_their_label() -> None:
    consumer = FakeConsumer()
    inbox = ReplyInbox(consumer)
    ids = [f"r{i}" for i in range(8)]
    inbox.expect(ids)
    results: dict[str, str] = {}

    def wait(rid: str) -> None:
        results[rid] = inbox.collect([rid], timeout_s=5)[0].label

    threads = [threading.Thread(target=wait, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for rid in reversed(ids):
        consumer.push(rid, f"label-{rid}")
    for t in threads:
        t.join(10)
    assert results == {rid: f"label-{rid}" for rid in ids}


def test_timeout_names_missing_ids_and_forgets_them() -> None:
    consumer = FakeConsumer()
    inbox = ReplyInbox(consumer)
    inbox.expect(["here", "gone"])
    consumer.push("here")
    with pytest.raises(ClassifyTimeout) as caught:
        inbox.collect(["here", "gone"], timeout_s=0.3)
    assert caught.value.missing == ["gone"]
    consumer.push("gone")  # a late label is dropped, not kept forever
    inbox.expect(["next"])
    consumer.push("next")
    assert inbox.collect(["next"], timeout_s=1)[0].request_id == "next"
    assert inbox._results == {}
