"""One request through the LLM: render the prompt, wait for a call slot, call the teacher
within a deadline, and turn the answer (or the failure) into the request's outputs.

The result says what happened and how long the slot wait and the call itself took, so the
service can keep queueing and LLM latency apart in its metrics. A call the worker gives up
on (``give_up_after_s``) is cancelled, which closes its HTTP request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracer_stream.config import TopicSettings
from tracer_stream.contracts import Outbound, now
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.labelling.intake import Job
from tracer_stream.labelling.outputs import answered, dead_letter, failure_reason, llm_failure
from tracer_stream.labelling.slots import CallSlots
from tracer_stream.llm import Answer, Teacher, TeacherError, Usage

log = logging.getLogger(__name__)


async def ask_teacher(teacher: Teacher, instructions: str, labels: Sequence[str], text: str
                      ) -> Answer:
    """The one place the worker calls the teacher: the task's instructions (system role) and
    the untrusted text (user role) travel apart."""
    return await teacher.label(instructions, labels, text=text)


@dataclass(frozen=True, slots=True)
class Labelled:
    """The outputs of one request and how they came about."""

    outputs: list[Outbound]
    outcome: str
    """``ok``, ``corrected``, ``unparseable_answer``, ``llm_failure`` or ``invalid_task``."""
    slot_wait_s: float = 0.0
    call_s: float | None = None
    """Duration of the LLM call itself (None when there was no call)."""
    usage: Usage | None = None


class Labeller:
    """Labels jobs with ``teacher`` under the ``slots`` bounds."""

    def __init__(self, teacher: Teacher, slots: CallSlots, topics: TopicSettings, *,
                 give_up_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.teacher = teacher
        self.slots = slots
        self.topics = topics
        self.give_up_after_s = give_up_after_s
        self._clock = clock

    async def label(self, job: Job) -> Labelled:
        request, task = job.request, job.task
        try:
            instructions = task.render_instructions()
        except (KeyError, IndexError, ValueError) as exc:
            letter = self._dead(DeadLetterReason.INVALID_TASK, f"cannot render the prompt of "
                                f"task {task.name!r}: {exc!r}", job)
            return Labelled([letter], "invalid_task")
        async with self.slots.hold(task.name) as waited:
            started_at, start = now(), self._clock()
            try:
                async with asyncio.timeout(self.give_up_after_s):
                    answer = await ask_teacher(self.teacher, instructions, task.label_names,
                                               request.text)
            except TeacherError as exc:
                log.warning("request %s (%s): %s", request.request_id, task.name, exc)
                return Labelled([llm_failure(request, exc, origin=job.origin,
                                             topics=self.topics)],
                                failure_reason(exc).value, waited, self._clock() - start,
                                exc.usage)
            except TimeoutError:
                detail = (f"[gave_up] no label after {self.give_up_after_s:g} s; the call was "
                          "cancelled")
                return Labelled([self._dead(DeadLetterReason.LLM_FAILURE, detail, job)],
                                DeadLetterReason.LLM_FAILURE.value, waited,
                                self._clock() - start)
            except Exception as exc:  # a bug must not drop the request nor stop the worker
                log.exception("request %s (%s): unexpected error", request.request_id,
                              task.name)
                return Labelled([self._dead(DeadLetterReason.LLM_FAILURE,
                                            f"[internal_error] {type(exc).__name__}: {exc}",
                                            job)],
                                DeadLetterReason.LLM_FAILURE.value, waited,
                                self._clock() - start)
            call_s = self._clock() - start
        outputs = answered(request, answer, teacher=self.teacher.name, topics=self.topics,
                           started_at=started_at, llm_ms=call_s * 1000.0)
        return Labelled(outputs, "corrected" if answer.corrected else "ok", waited, call_s,
                        answer.usage)

    def _dead(self, reason: DeadLetterReason, detail: str, job: Job) -> Outbound:
        return dead_letter(reason, detail, origin=job.origin, topics=self.topics,
                           request_id=job.request.request_id, task=job.task.name)


__all__ = ["Labelled", "Labeller", "ask_teacher"]
