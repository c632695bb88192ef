"""The teacher: a backend plus everything that makes calling it safe at volume.

:meth:`Teacher.label` turns a prompt into a label of the task's label space. Every call goes
through an :class:`asyncio.Semaphore` (``max_concurrency`` calls in flight) and an optional
:class:`~tracer_stream.llm.ratelimit.TokenBucket`; retryable failures (429, 5xx, timeouts,
connection errors) are retried per the :class:`~tracer_stream.llm.retry.RetryPolicy`; an
answer outside the label space gets one corrective follow-up. Tokens and cost of every call
are accumulated in the answer's (or the error's) :class:`~tracer_stream.llm.types.Usage`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from tracer_stream.llm.errors import BackendError, TeacherError
from tracer_stream.llm.parse import corrective_prompt, parse_label
from tracer_stream.llm.ratelimit import TokenBucket
from tracer_stream.llm.retry import RetryPolicy
from tracer_stream.llm.types import Answer, Backend, ChatTurn, Completion, Pricing, Usage

log = logging.getLogger(__name__)


class Teacher:
    """Labels texts with ``backend``; safe to call concurrently from one event loop."""

    def __init__(self, backend: Backend, *, policy: RetryPolicy | None = None,
                 pricing: Pricing | None = None, max_concurrency: int = 16,
                 limiter: TokenBucket | None = None, rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.policy = policy or RetryPolicy()
        self.pricing = pricing or Pricing()
        self.limiter = limiter
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock

    @property
    def name(self) -> str:
        """``backend:model``, recorded as the trace's ``teacher``."""
        return self.backend.name

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def label(self, prompt: str, labels: Sequence[str], *,
                    text: str | None = None) -> Answer:
        """The label for ``prompt``; raises :class:`TeacherError` when there is none."""
        usage = Usage()
        start = self._clock()
        first = await self._complete(prompt, labels, text, (), usage, start)
        label = parse_label(first.text, labels)
        if label is not None:
            return Answer(label, first.text, usage, self._ms_since(start))
        log.info("%s: answer %r is not a label, asking once more", self.name, first.text[:80])
        followup = (ChatTurn("assistant", first.text),
                    ChatTurn("user", corrective_prompt(first.text, labels)))
        second = await self._complete(prompt, labels, text, followup, usage, start)
        label = parse_label(second.text, labels)
        if label is not None:
            return Answer(label, second.text, usage, self._ms_since(start), corrected=True)
        raise TeacherError(
            f"{self.name} answered outside the label space twice: {second.text[:200]!r}",
            reason="unparseable_answer", usage=usage, latency_ms=self._ms_since(start),
            raw_answer=second.text,
        )

    async def _complete(self, prompt: str, labels: Sequence[str], text: str | None,
                        followup: Sequence[ChatTurn], usage: Usage, start: float
                        ) -> Completion:
        """One successful call, retrying retryable failures."""
        retry = 0
        while True:
            try:
                async with self._semaphore:
                    if self.limiter is not None:
                        await self.limiter.acquire()
                    completion = await self.backend.classify(
                        prompt, labels=labels, text=text, followup=followup)
            except BackendError as exc:
                if not exc.retryable or retry >= self.policy.max_retries:
                    given_up = "" if not exc.retryable else f" after {retry} retries"
                    raise TeacherError(f"{self.name}: {exc.message}{given_up}",
                                       reason=exc.reason, usage=usage,
                                       latency_ms=self._ms_since(start)) from None
                wait = self.policy.delay(retry, exc.retry_after_s, self._rng)
                log.warning("%s: %s; retry %d/%d in %.2fs", self.name, exc.message,
                            retry + 1, self.policy.max_retries, wait)
                usage.retries += 1
                retry += 1
                await self._sleep(wait)
                continue
            usage.add(completion, self.pricing)
            return completion

    def _ms_since(self, start: float) -> float:
        return max(self._clock() - start, 0.0) * 1000.0


__all__ = ["Teacher"]
