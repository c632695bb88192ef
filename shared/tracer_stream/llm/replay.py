"""The replay teacher: answers from a labelled JSONL file instead of calling an LLM.

Each line is ``{"text": ..., "label": ...}`` or, as written by the reference implementation
``tracer-llm``, ``{"input": ..., "teacher": ...}``. Answers are looked up by the exact input
text (a later line wins over an earlier one with the same text). It simulates an API for
demos and benchmarks: a fixed latency per call, an injected error rate (retried with
``tenacity`` like an SDK retries a 5xx), and token counts estimated as one token per four
characters so that per-token prices apply.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from tracer_stream.llm.errors import REPLAY_INJECTED_ERROR, REPLAY_UNKNOWN_TEXT, BackendError
from tracer_stream.llm.sdk import Backoff
from tracer_stream.llm.types import ChatTurn, Completion, LabelPrompt
from tracer_stream.offline.traces import read_traces


def load_replay_file(path: Path) -> dict[str, str]:
    """``{text: label}`` from a labelled JSONL file (the formats of
    :func:`~tracer_stream.offline.traces.read_traces`); errors name the file and line."""
    traces = read_traces(path)
    return dict(zip(traces.texts, traces.labelled, strict=True))


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class _InjectedError(Exception):
    """The simulated API failure."""


class ReplayBackend:
    """Answers ``prompt.text`` with its recorded label after ``latency_ms``."""

    def __init__(self, answers: dict[str, str], *, source: str = "replay",
                 latency_ms: float = 0.0, error_rate: float = 0.0, seed: int | None = None,
                 max_retries: int = 4, backoff: Backoff | None = None,
                 limiter: AsyncLimiter | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        self.name = f"replay:{source}"
        self.answers = answers
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        self.limiter = limiter
        self._rng = random.Random(seed)
        self._sleep = sleep

    async def classify(self, prompt: LabelPrompt,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        if prompt.text not in self.answers:
            text = prompt.text
            shown = text if len(text) <= 80 else text[:80] + "…"
            raise BackendError(f"replay teacher has no answer for text {shown!r}",
                               reason=REPLAY_UNKNOWN_TEXT)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_random_exponential(multiplier=self.backoff.base_s,
                                         max=self.backoff.max_s),
            retry=retry_if_exception_type(_InjectedError), sleep=self._sleep)
        try:
            async for attempt in retrying:
                with attempt:
                    await self._answer_once()
        except RetryError:
            raise BackendError("replay teacher: injected error", reason=REPLAY_INJECTED_ERROR,
                               retries=self.max_retries) from None
        label = self.answers[prompt.text]
        conversation = (prompt.instructions + prompt.text
                        + "".join(turn.content for turn in followup))
        return Completion(answer=label, raw=label, input_tokens=estimate_tokens(conversation),
                          output_tokens=estimate_tokens(label),
                          retries=retrying.statistics["attempt_number"] - 1)

    async def _answer_once(self) -> None:
        """One simulated API call: rate limit, latency, maybe the injected error."""
        if self.limiter is not None:
            await self.limiter.acquire()
        if self.latency_ms:
            await self._sleep(self.latency_ms / 1000.0)
        if self.error_rate and self._rng.random() < self.error_rate:
            raise _InjectedError

    async def aclose(self) -> None:
        """Nothing to release."""


__all__ = ["ReplayBackend", "estimate_tokens", "load_replay_file"]
