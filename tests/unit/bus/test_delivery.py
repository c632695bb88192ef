"""Producer.deliver: what failed is sent again, and a label its reply topic refuses becomes a
dead letter (a fake librdkafka producer stands in for the broker's delivery reports)."""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest

from tracer_stream.bus import Producer
from tracer_stream.bus.producer import DeliveryPolicy
from tracer_stream.bus.reply_topics import REPLY_UNDELIVERABLE, ReplyTopics
from tracer_stream.config import KafkaSettings
from tracer_stream.contracts import DeadLetter, Outbound, RoutedLabel, decode
from tracer_stream.errors import BusError

ERR = confluent_kafka.KafkaError


class _Msg:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


class FakeRdKafka:
    """Reports every produce at flush: an error code per topic (for ``fail_rounds`` flushes)."""

    def __init__(self, errors: dict[str, int], fail_rounds: int = 10**6) -> None:
        self.errors = errors
        self.fail_rounds = fail_rounds
        self.rounds = 0
        self.delivered: list[tuple[str, bytes]] = []
        self._queued: list[tuple[str, bytes, Any]] = []

    def produce(self, topic: str, *, value: bytes, key: Any, headers: Any,
                on_delivery: Any) -> None:
        self._queued.append((topic, value, on_delivery))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        self.rounds += 1
        for topic, value, callback in self._queued:
            code = self.errors.get(topic) if self.rounds <= self.fail_rounds else None
            if code is None:
                self.delivered.append((topic, value))
            callback(None if code is None else ERR(code), _Msg(topic))
        self._queued = []
        return 0


def producer(fake: FakeRdKafka) -> Producer:
    made = Producer(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    made._producer = fake  # type: ignore[assignment]
    return made


def label(request_id: str) -> RoutedLabel:
    return RoutedLabel(request_id=request_id, task="intents", label="card", source="surrogate")


@pytest.fixture
def replies() -> ReplyTopics:
    return ReplyTopics(lambda: {"tracer.replies.a"}, labels="t.labels",
                       prefixes=("tracer.replies.",), internal={"t.dead", "t.labels"})


def deliver(fake: FakeRdKafka, outputs: list[Outbound], replies: ReplyTopics,
            attempts: int = 3) -> list[Outbound]:
    return producer(fake).deliver(outputs, DeliveryPolicy(attempts=attempts),
                                  sleep=lambda _s: None,
                                  reroute=replies.rerouter("router", "t.dead"))


def test_a_denied_reply_topic_becomes_one_dead_letter_at_once(replies: ReplyTopics) -> None:
    fake = FakeRdKafka({"tracer.replies.a": ERR.TOPIC_AUTHORIZATION_FAILED})
    outputs = [Outbound("tracer.replies.a", label("r1"), "r1"),
               Outbound("t.labels", label("r2"), "r2")]
    got = deliver(fake, outputs, replies)
    assert [o.topic for o in got] == ["t.dead", "t.labels"]
    letter = got[0].message
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.request_id, letter.task, letter.field, letter.stage) == (
        REPLY_UNDELIVERABLE, "r1", "intents", "reply_topic", "router")
    assert letter.payload is not None
    assert decode(RoutedLabel, letter.payload.encode()).request_id == "r1"
    assert fake.rounds == 2  # the dead letter only: no retry of the denied topic, no re-send
    assert [t for t, _v in fake.delivered] == ["t.labels", "t.dead"]
    assert replies.reason("tracer.replies.a") == REPLY_UNDELIVERABLE


def test_a_transient_reply_error_is_retried_then_succeeds(replies: ReplyTopics) -> None:
    fake = FakeRdKafka({"tracer.replies.a": ERR._TRANSPORT}, fail_rounds=1)
    got = deliver(fake, [Outbound("tracer.replies.a", label("r1"), "r1")], replies)
    assert [o.topic for o in got] == ["tracer.replies.a"]
    assert [t for t, _v in fake.delivered] == ["tracer.replies.a"]


def test_a_reply_error_lasting_every_attempt_is_dead_lettered(replies: ReplyTopics) -> None:
    fake = FakeRdKafka({"tracer.replies.a": ERR._TRANSPORT})
    got = deliver(fake, [Outbound("tracer.replies.a", label("r1"), "r1")], replies, attempts=2)
    assert [o.topic for o in got] == ["t.dead"]
    assert [t for t, _v in fake.delivered] == ["t.dead"]


def test_the_deployments_own_topics_failing_raise(replies: ReplyTopics) -> None:
    fake = FakeRdKafka({"t.labels": ERR._TRANSPORT})
    with pytest.raises(BusError, match="1 output"):
        deliver(fake, [Outbound("t.labels", label("r1"), "r1")], replies, attempts=2)
    assert fake.rounds == 2


def test_only_what_failed_is_sent_again_and_nothing_is_lost(replies: ReplyTopics) -> None:
    fake = FakeRdKafka({"t.labels": ERR._TRANSPORT}, fail_rounds=1)
    outputs = [Outbound("tracer.replies.a" if i % 2 else "t.labels", label(f"r{i}"), f"r{i}")
               for i in range(10)]
    deliver(fake, outputs, replies)
    topics = [t for t, _v in fake.delivered]
    assert topics.count("tracer.replies.a") == 5 and topics.count("t.labels") == 5
