"""From a consumed record to work for the LLM, or straight to its one outcome.

:meth:`Intake.prepare` decodes the record, checks the limits, skips a request already
answered (see :mod:`tracer_stream.labelling.outcomes`), resolves the task and checks the
reply topic. It may block on Redis or broker metadata, so the worker calls it off its event
loop. Every dead letter carries the request's ``request_id`` and ``task`` whenever the record
had them, even when the record as a whole is unreadable
(:func:`~tracer_stream.labelling.recovery.identify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from tracer_stream.config import LimitsSettings, TopicSettings
from tracer_stream.contracts import LLMRequest, Outbound, decode
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.errors import ContractError
from tracer_stream.labelling.outcomes import OutcomeLog, position
from tracer_stream.labelling.outputs import Origin, dead_letter
from tracer_stream.labelling.recovery import identify
from tracer_stream.labelling.tasks import TaskSource
from tracer_stream.tasks import Task

ReplyRefusal = Callable[[str | None], tuple[str, str] | None]
"""``reply_topic`` -> ``(reason, detail)`` when the worker must not answer there
(:meth:`tracer_stream.bus.reply_topics.ReplyTopics.refusal`)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A request ready for the LLM."""

    request: LLMRequest
    task: Task
    origin: Origin
    consumed_at: float = field(default_factory=time.monotonic)


class _AlreadyAnswered:
    def __repr__(self) -> str:
        return "ALREADY_ANSWERED"


ALREADY_ANSWERED: Final = _AlreadyAnswered()
"""A redelivered request this worker group already answered: no new outcome."""

Prepared = Job | Outbound | _AlreadyAnswered


class Intake:
    """The rules applied to a record before any LLM call."""

    def __init__(self, *, topics: TopicSettings, limits: LimitsSettings, tasks: TaskSource,
                 reply_refusal: ReplyRefusal, outcomes: OutcomeLog | None = None) -> None:
        self.topics = topics
        self.limits = limits
        self.tasks = tasks
        self.reply_refusal = reply_refusal
        self.outcomes = outcomes

    def prepare(self, raw: bytes | None, origin: Origin) -> Prepared:
        """A :class:`Job`, a dead letter, or :data:`ALREADY_ANSWERED`; raises
        :class:`~tracer_stream.labelling.tasks.RegistryUnavailable` while it cannot be known
        whether the task exists (the caller waits and tries again)."""
        try:
            request = decode(LLMRequest, raw or b"", max_bytes=self.limits.max_message_bytes)
        except ContractError as exc:
            who = identify(raw)
            return self._refuse(DeadLetterReason(exc.reason), exc.message, origin,
                                request_id=who.request_id, task=who.task, field=exc.field)
        where = position(origin.topic, origin.partition, origin.offset)
        if self.outcomes is not None and self.outcomes.answered(
                (request.task, request.request_id, where)):
            return ALREADY_ANSWERED
        if len(request.text) > self.limits.max_text_chars:
            return self._refuse(
                DeadLetterReason.TEXT_TOO_LONG, f"text has {len(request.text)} characters, "
                f"the limit is {self.limits.max_text_chars}", origin, request, field="text")
        task = self.tasks.get(request.task)
        if task is None:
            return self._refuse(DeadLetterReason.UNKNOWN_TASK, f"task {request.task!r} is not "
                                "registered (tracer-stream task apply FILE)", origin, request,
                                field="task")
        if request.answer_requester and (refused := self.reply_refusal(request.reply_topic)):
            reason, detail = refused
            return self._refuse(DeadLetterReason(reason), detail, origin, request,
                                field="reply_topic")
        return Job(request, task, origin)

    def _refuse(self, reason: DeadLetterReason, detail: str, origin: Origin,
                request: LLMRequest | None = None, *, request_id: str | None = None,
                task: str | None = None, field: str | None = None) -> Outbound:
        if request is not None:
            request_id, task = request.request_id, request.task
        return dead_letter(reason, detail, origin=origin, topics=self.topics,
                           request_id=request_id, task=task, field=field)


__all__ = ["ALREADY_ANSWERED", "Intake", "Job", "Prepared", "ReplyRefusal"]
