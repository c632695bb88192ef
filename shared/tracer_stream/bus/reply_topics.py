"""Checking a request's ``reply_topic`` before anything is produced to it.

A request may name the topic its label goes to. Producing to a topic that does not exist
(a typo, a client that deleted its private reply topic) fails only after librdkafka's metadata
timeout, and every retry fails the same way: one such request would stop the service that
answers it again and again. And a request must never make a service write into the
deployment's own topics (a ``RoutedLabel`` on the models or traces topic). So the router and
the LLM worker ask :class:`ReplyTopics` first and dead-letter the request with a reason when
the answer is no.

Existing topics come from the broker's metadata, cached for ``max_age_s`` (a topic deleted
meanwhile is noticed after that long). A name not in the cache always re-reads the metadata
(clients create their reply topic just before their first request, possibly after the last
read), and is refused only when that fresh read does not have it; the refusal is remembered for
``miss_refresh_s`` so that a stream of requests naming the same missing topic costs one read.
When the metadata cannot be read the check lets the request through (producing then retries as
for any broker trouble) rather than refusing requests because of an unrelated outage.

>>> topics = ReplyTopics(lambda: {"tracer.labels", "my-replies"}, labels="tracer.labels",
...                      internal={"tracer.models", "tracer.traces"})
>>> topics.refusal("my-replies") is None, topics.refusal(None) is None
(True, True)
>>> topics.refusal("tracer.models")
('forbidden_reply_topic', "reply_topic 'tracer.models' is one of the deployment's own topics")
>>> topics.refusal("nope")
('unknown_reply_topic', "reply_topic 'nope' does not exist")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from tracer_stream.bus.producer import Producer
from tracer_stream.config import TopicSettings
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

UNKNOWN_REPLY_TOPIC = "unknown_reply_topic"
"""Dead-letter reason: the request's ``reply_topic`` does not exist."""
FORBIDDEN_REPLY_TOPIC = "forbidden_reply_topic"
"""Dead-letter reason: the request's ``reply_topic`` is one of the deployment's own topics."""


_MAX_REMEMBERED = 10_000  # missing topic names remembered at most (then forgotten at once)


class ReplyTopics:
    """Answers "may a label be produced to this reply topic?" from cached broker metadata."""

    def __init__(self, list_topics: Callable[[], Collection[str]], *, labels: str,
                 internal: Collection[str], max_age_s: float = 30.0,
                 miss_refresh_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._list_topics = list_topics
        self._labels = labels
        self._internal = frozenset(internal) - {labels}
        self._max_age_s = max_age_s
        self._miss_refresh_s = miss_refresh_s
        self._clock = clock
        self._known: frozenset[str] = frozenset()
        self._listed_at: float | None = None
        self._missing: dict[str, float] = {}  # topic → when a fresh read did not have it

    @classmethod
    def of(cls, producer: Producer, topics: TopicSettings) -> ReplyTopics:
        """The check for a deployment: its labels topic is the default, its other topics are
        refused, existing topics are read through ``producer``."""
        return cls(producer.topic_names, labels=topics.name("labels"),
                   internal=topics.all_names().values())

    def reason(self, topic: str | None) -> str | None:
        """The dead-letter reason for ``topic`` (None: it may be used)."""
        if topic is None or topic == self._labels:
            return None
        if topic in self._internal:
            return FORBIDDEN_REPLY_TOPIC
        now = self._clock()
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

    def refusal(self, topic: str | None) -> tuple[str, str] | None:
        """``(reason, detail)`` for a dead letter when ``topic`` may not be used, else None."""
        reason = self.reason(topic)
        if reason == FORBIDDEN_REPLY_TOPIC:
            return reason, f"reply_topic {topic!r} is one of the deployment's own topics"
        if reason == UNKNOWN_REPLY_TOPIC:
            return reason, f"reply_topic {topic!r} does not exist"
        return None

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
