"""Producing a batch's outputs so that every request keeps exactly one outcome, even when its
reply topic cannot be written.

:func:`deliver` produces every output and waits for the acknowledgements. What failed is sent
again (duplicates are possible, losses are not) after a pause; a service stops only when the
deployment's own topics stay unwritable. A label for a requester's reply topic that fails for
good (the topic was deleted, an ACL denies writing, the label is too large), or still
reports an error at the last attempt, becomes a dead letter on the deployment's dead-letter
topic instead, with reason ``reply_undeliverable``, the request id and task, and the label as
its payload; the topic is then refused before any produce for a while
(:meth:`ReplyTopics.failed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import confluent_kafka

from tracer_stream.bus.producer import DeliveryCallback, Producer
from tracer_stream.bus.reply_topics import REPLY_UNDELIVERABLE, ReplyTopics
from tracer_stream.contracts import DeadLetter, Message, encode
from tracer_stream.contracts.dead_letters import dead_letter
from tracer_stream.contracts.messages import Stage
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

_ERR = confluent_kafka.KafkaError
PERMANENT_REPLY_ERRORS = frozenset({
    _ERR.UNKNOWN_TOPIC_OR_PART, _ERR._UNKNOWN_TOPIC, _ERR._UNKNOWN_PARTITION,
    _ERR.TOPIC_AUTHORIZATION_FAILED, _ERR.TOPIC_EXCEPTION, _ERR.MSG_SIZE_TOO_LARGE,
    _ERR._MSG_TIMED_OUT, _ERR.POLICY_VIOLATION, _ERR.INVALID_RECORD,
})
"""Produce errors that retrying the same reply topic does not cure."""


class Outgoing(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def message(self) -> Message: ...


Out = TypeVar("Out", bound=Outgoing)


def deliver(producer: Producer, outputs: Sequence[Out], *, reply_topics: ReplyTopics,
            stage: Stage, as_dead_letter: Callable[[Out, DeadLetter], Out], attempts: int,
            pause: Callable[[int], object]) -> list[Out]:
    """Produce ``outputs`` until all are acknowledged; return what was finally delivered (the
    outputs, with undeliverable replies swapped for their dead letters by ``as_dead_letter``).

    ``pause(attempt)`` waits between attempts. Raises :class:`BusError` when the deployment's
    own topics still fail after ``attempts``.
    """
    current = list(outputs)
    pending = list(range(len(current)))
    attempt = 0
    while pending:
        attempt += 1
        errors = _send_round(producer, current, pending, attempt, attempts)
        pending = [i for i in pending if i not in errors or errors[i] is not None]
        swapped = set()
        for index in pending:
            out, err = current[index], errors.get(index)
            if err is None:  # not acknowledged in time: it may still arrive, so never swap
                continue
            if reply_topics.is_reply_topic(out.topic) and (
                    attempt >= attempts or err.code() in PERMANENT_REPLY_ERRORS):
                why = str(err)
                reply_topics.failed(out.topic, why)
                log.warning("reply topic %s is undeliverable (%s): dead-lettering the label",
                            out.topic, why)
                current[index] = as_dead_letter(out, _reply_letter(stage, out, why))
                swapped.add(index)
        retried = [i for i in pending if i not in swapped]
        if retried and attempt >= attempts:
            raise BusError(f"{len(retried)} output(s) undelivered after {attempt} attempts")
        if retried:
            pause(attempt)
    return current


def _send_round(producer: Producer, current: Sequence[Outgoing], indexes: Sequence[int],
                attempt: int, attempts: int) -> dict[int, confluent_kafka.KafkaError | None]:
    """Send ``current[i]`` for each index and flush; the delivery error (None: acknowledged)
    of every index that got a report (an index without one was not acknowledged in time)."""
    errors: dict[int, confluent_kafka.KafkaError | None] = {}

    def report(index: int) -> DeliveryCallback:
        def reported(err: confluent_kafka.KafkaError | None) -> None:
            errors[index] = err
        return reported

    for index in indexes:
        out = current[index]
        producer.send(out.topic, out.message, key=out.key, on_delivery=report(index))
    try:
        producer.flush_or_raise()
    except BusError as exc:
        log.warning("delivery attempt %d/%d: %s", attempt, attempts, exc)
    return errors


def _reply_letter(stage: Stage, out: Outgoing, why: str) -> DeadLetter:
    message = out.message
    return dead_letter(
        stage, REPLY_UNDELIVERABLE, f"producing the label to reply_topic {out.topic!r} "
        f"failed: {why}", raw=encode(message), field="reply_topic",
        request_id=getattr(message, "request_id", None), task=getattr(message, "task", None))
