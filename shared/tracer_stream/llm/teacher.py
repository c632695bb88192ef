"""The teacher: one backend plus strict parsing, one corrective follow-up, and accounting.

:meth:`Teacher.label` is one logical labelling: the backend's call (the provider SDK retries
429, 5xx, timeouts and connection errors inside it, per the configured retries and backoff),
a strict parse into the task's label space, and, when the answer is outside it, one
corrective follow-up. It adds no queue and no concurrency bound of its own: the caller (the
worker) decides how many labellings are in flight. Tokens, retries and cost of every call
are accumulated in the answer's (or the error's) :class:`~tracer_stream.llm.types.Usage`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from tracer_stream.llm.errors import UNPARSEABLE_ANSWER, BackendError, TeacherError
from tracer_stream.llm.parse import parse_label
from tracer_stream.llm.prompt import corrective_prompt
from tracer_stream.llm.types import (
    Answer,
    Backend,
    ChatTurn,
    Completion,
    LabelPrompt,
    Pricing,
    Usage,
)

log = logging.getLogger(__name__)


class Teacher:
    """Labels texts with ``backend``; safe to call concurrently from one event loop, and
    always from that same loop (the SDK clients' HTTP sessions belong to it)."""

    def __init__(self, backend: Backend, *, pricing: Pricing | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.pricing = pricing or Pricing()
        self._clock = clock

    @property
    def name(self) -> str:
        """``backend:model``, recorded as the trace's ``teacher``."""
        return self.backend.name

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def label(self, instructions: str, labels: Sequence[str], *, text: str) -> Answer:
        """The label of ``text`` among ``labels``, asked with the task's ``instructions``
        (which must not contain ``text``: it is sent apart, as untrusted data). Raises
        :class:`TeacherError` when there is no label."""
        prompt = LabelPrompt(instructions, tuple(labels), text)
        usage = Usage()
        start = self._clock()
        first = await self._call(prompt, (), usage, start)
        label = parse_label(first.answer, labels)
        if label is not None:
            return Answer(label, first.answer, usage, self._ms_since(start))
        log.info("%s: answer %r is not a label, asking once more", self.name, first.raw[:80])
        followup = (ChatTurn("assistant", first.raw),
                    ChatTurn("user", corrective_prompt(first.answer, labels)))
        second = await self._call(prompt, followup, usage, start)
        label = parse_label(second.answer, labels)
        if label is not None:
            return Answer(label, second.answer, usage, self._ms_since(start), corrected=True)
        raise TeacherError(
            f"{self.name} answered outside the label space twice: {second.answer[:200]!r}",
            reason=UNPARSEABLE_ANSWER, usage=usage, latency_ms=self._ms_since(start),
            raw_answer=second.answer)

    async def _call(self, prompt: LabelPrompt, followup: Sequence[ChatTurn], usage: Usage,
                    start: float) -> Completion:
        try:
            completion = await self.backend.classify(prompt, followup)
        except BackendError as exc:
            usage.retries += exc.retries
            raise TeacherError(exc.message, reason=exc.reason, usage=usage,
                               latency_ms=self._ms_since(start),
                               status=exc.status) from None
        usage.add(completion, self.pricing)
        return completion

    def _ms_since(self, start: float) -> float:
        return max(self._clock() - start, 0.0) * 1000.0


__all__ = ["Teacher"]
