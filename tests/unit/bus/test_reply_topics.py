"""The reply-topic check: an allow-list of prefixes, own topics refused, unknown topics
refused, metadata cached, failed topics refused for a while."""

from __future__ import annotations

import pytest

from tracer_stream.bus.reply_topics import (
    REPLY_TOPIC_NOT_ALLOWED,
    REPLY_UNDELIVERABLE,
    UNKNOWN_REPLY_TOPIC,
    ReplyTopics,
)
from tracer_stream.errors import BusError


class Cluster:
    """A topic list that can change and fail, and counts how often it was read."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.reads = 0
        self.down = False

    def __call__(self) -> set[str]:
        self.reads += 1
        if self.down:
            raise BusError("broker unreachable")
        return set(self.names)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster() -> Cluster:
    return Cluster("t.labels", "t.models", "t.traces", "replies.a")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def topics(cluster: Cluster, clock: Clock) -> ReplyTopics:
    return ReplyTopics(cluster, labels="t.labels", prefixes=("replies.", "t."),
                       internal={"t.labels", "t.models", "t.traces"}, max_age_s=30.0,
                       miss_refresh_s=1.0, failure_memory_s=10.0, clock=clock)


def test_no_reply_topic_and_the_labels_topic_need_no_lookup(topics: ReplyTopics,
                                                            cluster: Cluster) -> None:
    assert topics.reason(None) is None
    assert topics.reason("t.labels") is None
    assert cluster.reads == 0


def test_the_deployments_own_topics_are_refused_even_under_an_allowed_prefix(
        topics: ReplyTopics, cluster: Cluster) -> None:
    assert topics.reason("t.models") == REPLY_TOPIC_NOT_ALLOWED
    assert topics.reason("t.traces") == REPLY_TOPIC_NOT_ALLOWED
    assert topics.refusal("t.models") == (
        REPLY_TOPIC_NOT_ALLOWED, "reply_topic 't.models' is one of the deployment's own topics")
    assert cluster.reads == 0


def test_topics_outside_the_allowed_prefixes_are_refused_without_a_lookup(
        topics: ReplyTopics, cluster: Cluster) -> None:
    cluster.names.add("payments.events")  # exists, but belongs to another application
    assert topics.refusal("payments.events") == (
        REPLY_TOPIC_NOT_ALLOWED, "reply_topic 'payments.events' does not start with an "
        "allowed reply prefix ('replies.', 't.')")
    assert topics.reason("xreplies.a") == REPLY_TOPIC_NOT_ALLOWED
    assert cluster.reads == 0
    assert topics.is_reply_topic("replies.a") and not topics.is_reply_topic("t.models")
    assert not topics.is_reply_topic("t.labels")


def test_a_topic_that_failed_is_refused_for_the_failure_memory(topics: ReplyTopics,
                                                                clock: Clock) -> None:
    assert topics.reason("replies.a") is None
    topics.failed("replies.a", "Broker: Topic authorization failed")
    assert topics.refusal("replies.a") == (
        REPLY_UNDELIVERABLE,
        "producing to reply_topic 'replies.a' failed: Broker: Topic authorization failed")
    clock.now += 10.0
    assert topics.reason("replies.a") is None


def test_existing_topics_pass_and_unknown_ones_are_refused(topics: ReplyTopics) -> None:
    assert topics.reason("replies.a") is None
    assert topics.reason("replies.typo") == UNKNOWN_REPLY_TOPIC
    assert topics.refusal("replies.typo") == (UNKNOWN_REPLY_TOPIC,
                                              "reply_topic 'replies.typo' does not exist")


def test_metadata_is_cached_and_refreshed_for_new_topics(topics: ReplyTopics, cluster: Cluster,
                                                         clock: Clock) -> None:
    assert topics.reason("replies.a") is None
    assert cluster.reads == 1
    assert topics.reason("replies.a") is None
    assert cluster.reads == 1  # hits are served from the cache
    cluster.names.add("replies.b")  # a client creates its reply topic after the last read
    assert topics.reason("replies.b") is None  # a miss always re-reads: found at once
    assert cluster.reads == 2


def test_a_missing_topic_costs_one_read_per_miss_refresh(topics: ReplyTopics, cluster: Cluster,
                                                         clock: Clock) -> None:
    assert topics.reason("replies.typo") == UNKNOWN_REPLY_TOPIC
    assert topics.reason("replies.typo") == UNKNOWN_REPLY_TOPIC
    assert cluster.reads == 1
    cluster.names.add("replies.typo")
    clock.now += 1.0
    assert topics.reason("replies.typo") is None
    assert cluster.reads == 2


def test_a_deleted_topic_is_noticed_after_max_age(topics: ReplyTopics, cluster: Cluster,
                                                  clock: Clock) -> None:
    assert topics.reason("replies.a") is None
    cluster.names.discard("replies.a")  # the client closed and deleted its reply topic
    clock.now += 29.0
    assert topics.reason("replies.a") is None  # still cached
    clock.now += 1.0
    assert topics.reason("replies.a") == UNKNOWN_REPLY_TOPIC


def test_unreadable_metadata_lets_requests_through(topics: ReplyTopics,
                                                   cluster: Cluster) -> None:
    cluster.down = True
    assert topics.reason("replies.anything") is None
    assert topics.reason("t.models") == REPLY_TOPIC_NOT_ALLOWED  # needs no metadata
