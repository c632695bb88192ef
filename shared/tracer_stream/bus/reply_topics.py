"""Checking a request's ``reply_topic`` before anything is produced to it.

A request may name the topic its label goes to. That is an allow-list: only topics whose name
starts with one of the configured reply prefixes (``TRACER_STREAM_TOPICS_REPLY_PREFIXES``,
default ``tracer.replies.``) may be named, never one of the deployment's own topics, so a
client cannot make a service write into another application's topic (``payments.events``) or
put a ``RoutedLabel`` on the models or traces topic. Anything else is dead-lettered with reason
``reply_topic_not_allowed`` before any produce.

An allowed topic must also exist: producing to a missing topic fails only after librdkafka's
metadata timeout, and every retry fails the same way, so the router and the LLM worker ask
:class:`ReplyTopics` first and dead-letter the request (``unknown_reply_topic``) when the
answer is no. When producing to an allowed topic still fails (deleted meanwhile, an ACL denies
it), :func:`tracer_stream.bus.delivery.deliver` turns the label into a dead letter
(``reply_undeliverable``) and :meth:`ReplyTopics.failed` refuses that topic for
``failure_memory_s``, so one broken reply topic never stops a service.

Existing topics come from the broker's metadata, cached for ``max_age_s`` (a topic deleted
meanwhile is noticed after that long). A name not in the cache always re-reads the metadata
(a topic created just before the first request), and is refused only when that fresh read does
not have it; the refusal is remembered for ``miss_refresh_s`` so that a stream of requests
naming the same missing topic costs one read. When the metadata cannot be read the check lets
the request through (producing then retries as for any broker trouble) rather than refusing
requests because of an unrelated outage.

>>> topics = ReplyTopics(lambda: {"tracer.labels", "tracer.replies.app"},
...                      labels="tracer.labels", prefixes=("tracer.replies.",),
...                      internal={"tracer.models", "tracer.traces"})
>>> topics.refusal("tracer.replies.app") is None, topics.refusal(None) is None
(True, True)
>>> print(*topics.refusal("payments.events"), sep=": ")
reply_topic_not_allowed: reply_topic 'payments.events' does not start with an allowed reply \
prefix ('tracer.replies.')
>>> print(*topics.refusal("tracer.replies.nope"), sep=": ")
unknown_reply_topic: reply_topic 'tracer.replies.nope' does not exist
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence

import confluent_kafka

from tracer_stream.bus.producer import Producer, Reroute
from tracer_stream.config import TopicSettings
from tracer_stream.contracts import Outbound, encode
from tracer_stream.contracts.dead_letters import dead_letter
from tracer_stream.contracts.messages import Stage
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

REPLY_TOPIC_NOT_ALLOWED = DeadLetterReason.REPLY_TOPIC_NOT_ALLOWED
UNKNOWN_REPLY_TOPIC = DeadLetterReason.UNKNOWN_REPLY_TOPIC
REPLY_UNDELIVERABLE = DeadLetterReason.REPLY_UNDELIVERABLE

_ERR = confluent_kafka.KafkaError
PERMANENT_ERRORS = frozenset({
    _ERR.UNKNOWN_TOPIC_OR_PART, _ERR._UNKNOWN_TOPIC, _ERR._UNKNOWN_PARTITION,
    _ERR.TOPIC_AUTHORIZATION_FAILED, _ERR.TOPIC_EXCEPTION, _ERR.MSG_SIZE_TOO_LARGE,
    _ERR._MSG_TIMED_OUT, _ERR.POLICY_VIOLATION, _ERR.INVALID_RECORD,
})
"""Produce errors that sending to the same reply topic again does not cure."""


_MAX_REMEMBERED = 10_000  # missing topic names remembered at most (then forgotten at once)


class ReplyTopics:
    """Answers "may a label be produced to this reply topic?" from cached broker metadata."""

    def __init__(self, list_topics: Callable[[], Collection[str]], *, labels: str,
                 prefixes: Sequence[str], internal: Collection[str], max_age_s: float = 30.0,
                 miss_refresh_s: float = 1.0, failure_memory_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._list_topics = list_topics
        self._labels = labels
        self._prefixes = tuple(prefixes)
        self._internal = frozenset(internal) - {labels}
        self._max_age_s = max_age_s
        self._miss_refresh_s = miss_refresh_s
        self._failure_memory_s = failure_memory_s
        self._clock = clock
        self._known: frozenset[str] = frozenset()
        self._listed_at: float | None = None
        self._missing: dict[str, float] = {}  # topic → when a fresh read did not have it
        self._failed: dict[str, tuple[float, str]] = {}  # topic → (when, why) produce failed

    @classmethod
    def of(cls, producer: Producer, topics: TopicSettings) -> ReplyTopics:
        """The check for a deployment: its labels topic is the default, its reply prefixes are
        allowed except for its own topics, existing topics are read through ``producer``."""
        own = {name for kind, name in topics.all_names().items() if kind != "replies"}
        return cls(producer.topic_names, labels=topics.name("labels"),
                   prefixes=topics.reply_prefixes, internal=own)

    def is_reply_topic(self, topic: str) -> bool:
        """Is ``topic`` a requester's reply topic (not one of the deployment's own)?"""
        return topic != self._labels and topic not in self._internal

    def failed(self, topic: str, why: str) -> None:
        """Producing to ``topic`` failed for good: refuse it for ``failure_memory_s``."""
        if len(self._failed) > _MAX_REMEMBERED:
            self._failed.clear()
        self._failed[topic] = (self._clock(), why)

    def rerouter(self, stage: Stage, dead_letter_topic: str) -> Reroute:
        """The ``reroute`` hook of :meth:`Producer.deliver`: a label that its reply topic
        refuses for good (or still at the last attempt) becomes a ``reply_undeliverable`` dead
        letter on ``dead_letter_topic``; the deployment's own topics are sent again."""
        def reroute(out: Outbound, err: confluent_kafka.KafkaError,
                    last: bool) -> Outbound | None:
            if not self.is_reply_topic(out.topic) or not (
                    last or err.code() in PERMANENT_ERRORS):
                return None
            self.failed(out.topic, str(err))
            log.warning("reply topic %s is undeliverable (%s): dead-lettering the label",
                        out.topic, err)
            message = out.message
            letter = dead_letter(
                stage, REPLY_UNDELIVERABLE, f"producing the label to reply_topic "
                f"{out.topic!r} failed: {err}", raw=encode(message), field="reply_topic",
                request_id=getattr(message, "request_id", None),
                task=getattr(message, "task", None))
            return Outbound(dead_letter_topic, letter, out.key)
        return reroute

    def reason(self, topic: str | None) -> DeadLetterReason | None:
        """The dead-letter reason for ``topic`` (None: it may be used)."""
        if topic is None or topic == self._labels:
            return None
        if topic in self._internal or not topic.startswith(self._prefixes):
            return REPLY_TOPIC_NOT_ALLOWED
        now = self._clock()
        failure = self._failed.get(topic)
        if failure is not None:
            if now - failure[0] < self._failure_memory_s:
                return REPLY_UNDELIVERABLE
            del self._failed[topic]
        if topic in self._known and self._listed_at is not None \
                and now - self._listed_at < self._max_age_s:
            return None
        missing_since = self._missing.get(topic)
        if missing_since is not None and now - missing_since < self._miss_refresh_s:
            return UNKNOWN_REPLY_TOPIC
        if not self._read(now):
            return None
        if topic in self._known:
            self._missing.pop(topic, None)
            return None
        self._missing[topic] = now
        return UNKNOWN_REPLY_TOPIC

    def refusal(self, topic: str | None) -> tuple[DeadLetterReason, str] | None:
        """``(reason, detail)`` for a dead letter when ``topic`` may not be used, else None."""
        reason = self.reason(topic)
        if reason is None or topic is None:
            return None
        if reason is REPLY_TOPIC_NOT_ALLOWED:
            if topic in self._internal:
                return reason, f"reply_topic {topic!r} is one of the deployment's own topics"
            allowed = ", ".join(repr(p) for p in self._prefixes)
            return reason, (f"reply_topic {topic!r} does not start with an allowed reply "
                            f"prefix ({allowed})")
        if reason is REPLY_UNDELIVERABLE:
            return reason, f"producing to reply_topic {topic!r} failed: {self._failed[topic][1]}"
        return reason, f"reply_topic {topic!r} does not exist"

    def _read(self, now: float) -> bool:
        """Re-read the topic list; False when it cannot be read."""
        try:
            self._known = frozenset(self._list_topics())
        except BusError as exc:
            log.warning("cannot read the topic list to check a reply_topic: %s", exc)
            return False
        self._listed_at = now
        if len(self._missing) > _MAX_REMEMBERED:
            self._missing.clear()
        return True
