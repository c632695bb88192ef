"""deliver(): retries, and a label its reply topic refuses becomes a dead letter (a fake
producer stands in for librdkafka's delivery reports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import confluent_kafka
import pytest

from tracer_stream.bus import Producer
from tracer_stream.bus.delivery import deliver
from tracer_stream.bus.producer import DeliveryCallback
from tracer_stream.bus.reply_topics import REPLY_UNDELIVERABLE, ReplyTopics
from tracer_stream.contracts import DeadLetter, Message, RoutedLabel, decode
from tracer_stream.errors import BusError

ERR = confluent_kafka.KafkaError


@dataclass(frozen=True)
class Out:
    topic: str
    message: Message
    key: str | None


class FakeProducer:
    """Reports each send at flush: an error code per topic (for ``fail_times`` rounds)."""

    def __init__(self, errors: dict[str, int], fail_times: int = 10**6) -> None:
        self.errors = errors
        self.fail_times = fail_times
        self.rounds = 0
        self.sent: list[tuple[str, Message]] = []
        self.delivered: list[tuple[str, Message]] = []
        self._queued: list[tuple[str, Message, DeliveryCallback | None]] = []

    def send(self, topic: str, message: Message, *, key: str | None = None,
             on_delivery: DeliveryCallback | None = None) -> None:
        self.sent.append((topic, message))
        self._queued.append((topic, message, on_delivery))

    def flush_or_raise(self, timeout_s: float = 30.0) -> None:
        self.rounds += 1
        failed = False
        for topic, message, callback in self._queued:
            code = self.errors.get(topic) if self.rounds <= self.fail_times else None
            err = None if code is None else ERR(code)
            failed |= err is not None
            if err is None:
                self.delivered.append((topic, message))
            assert callback is not None
            callback(err)
        self._queued = []
        if failed:
            raise BusError("some failed")


def label(request_id: str, task: str = "intents") -> RoutedLabel:
    return RoutedLabel(request_id=request_id, task=task, label="card", source="surrogate")


@pytest.fixture
def replies() -> ReplyTopics:
    return ReplyTopics(lambda: {"tracer.replies.a"}, labels="t.labels",
                       prefixes=("tracer.replies.",), internal={"t.dead", "t.labels"})


def run(producer: FakeProducer, outputs: list[Out], replies: ReplyTopics,
        attempts: int = 3) -> list[Out]:
    return deliver(cast(Producer, producer), outputs, reply_topics=replies, stage="router",
                   as_dead_letter=lambda out, letter: Out("t.dead", letter, out.key),
                   attempts=attempts, pause=lambda _attempt: None)


def test_a_denied_reply_topic_becomes_one_dead_letter_at_once(replies: ReplyTopics) -> None:
    producer = FakeProducer({"tracer.replies.a": ERR.TOPIC_AUTHORIZATION_FAILED})
    outputs = [Out("tracer.replies.a", label("r1"), "r1"), Out("t.labels", label("r2"), "r2")]
    got = run(producer, outputs, replies)
    assert [o.topic for o in got] == ["t.dead", "t.labels"]
    letter = got[0].message
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.request_id, letter.task, letter.field, letter.stage) == (
        REPLY_UNDELIVERABLE, "r1", "intents", "reply_topic", "router")
    assert letter.payload is not None
    assert decode(RoutedLabel, letter.payload.encode()).request_id == "r1"
    assert producer.rounds == 2  # no retry of the denied topic, no re-send of the labels topic
    assert [t for t, _m in producer.delivered] == ["t.labels", "t.dead"]
    assert replies.reason("tracer.replies.a") == REPLY_UNDELIVERABLE


def test_a_transient_reply_error_is_retried_then_succeeds(replies: ReplyTopics) -> None:
    producer = FakeProducer({"tracer.replies.a": ERR._TRANSPORT}, fail_times=1)
    reply = label("r1")
    got = run(producer, [Out("tracer.replies.a", reply, "r1")], replies)
    assert [o.topic for o in got] == ["tracer.replies.a"]
    assert producer.delivered == [("tracer.replies.a", reply)]


def test_a_reply_error_lasting_every_attempt_is_dead_lettered(replies: ReplyTopics) -> None:
    producer = FakeProducer({"tracer.replies.a": ERR._TRANSPORT})
    got = run(producer, [Out("tracer.replies.a", label("r1"), "r1")], replies, attempts=2)
    assert [o.topic for o in got] == ["t.dead"]
    assert [t for t, _m in producer.delivered] == ["t.dead"]


def test_the_deployments_own_topics_failing_raise(replies: ReplyTopics) -> None:
    producer = FakeProducer({"t.labels": ERR._TRANSPORT})
    with pytest.raises(BusError, match="1 output"):
        run(producer, [Out("t.labels", label("r1"), "r1")], replies, attempts=2)
    assert producer.rounds == 2


def test_nothing_is_lost_or_doubled(replies: ReplyTopics) -> None:
    producer = FakeProducer({"tracer.replies.a": ERR.UNKNOWN_TOPIC_OR_PART})
    outputs: list[Any] = [Out("tracer.replies.a" if i % 2 else "t.labels", label(f"r{i}"),
                              f"r{i}") for i in range(10)]
    run(producer, outputs, replies)
    ids = sorted(m.request_id for _t, m in producer.delivered)
    assert ids == sorted(f"r{i}" for i in range(10))
