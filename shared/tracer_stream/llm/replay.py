"""The replay teacher: answers from a labelled JSONL file instead of calling an LLM.

Each line is ``{"text": ..., "label": ...}`` or, as written by the reference implementation
``tracer-llm``, ``{"input": ..., "teacher": ...}``. Answers are looked up by the exact input
text (a later line wins over an earlier one with the same text). It simulates an API for
demos and benchmarks: a fixed latency per call, an injected retryable error rate, and token
counts estimated as one token per four characters so that per-token prices apply.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from tracer_stream.llm.errors import BackendError
from tracer_stream.llm.types import ChatTurn, Completion
from tracer_stream.offline.traces import read_traces


def load_replay_file(path: Path) -> dict[str, str]:
    """``{text: label}`` from a labelled JSONL file (the formats of
    :func:`~tracer_stream.offline.traces.read_traces`); errors name the file and line."""
    traces = read_traces(path)
    return dict(zip(traces.texts, traces.labelled, strict=True))


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class ReplayBackend:
    """Answers ``text`` with its recorded label after ``latency_ms``."""

    def __init__(self, answers: dict[str, str], *, source: str = "replay",
                 latency_ms: float = 0.0, error_rate: float = 0.0, seed: int | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        self.name = f"replay:{source}"
        self.answers = answers
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self._rng = random.Random(seed)
        self._sleep = sleep

    @classmethod
    def from_file(cls, path: Path, *, latency_ms: float = 0.0, error_rate: float = 0.0,
                  seed: int | None = None) -> ReplayBackend:
        return cls(load_replay_file(path), source=Path(path).name, latency_ms=latency_ms,
                   error_rate=error_rate, seed=seed)

    async def classify(self, prompt: str, *, labels: Sequence[str], text: str | None = None,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        if self.latency_ms:
            await self._sleep(self.latency_ms / 1000.0)
        if self.error_rate and self._rng.random() < self.error_rate:
            raise BackendError("replay teacher: injected error", reason="replay_injected_error",
                               retryable=True)
        if text is None or text not in self.answers:
            shown = text if text is None or len(text) <= 80 else text[:80] + "…"
            raise BackendError(f"replay teacher has no answer for text {shown!r}",
                               reason="replay_unknown_text", retryable=False)
        label = self.answers[text]
        conversation = prompt + "".join(turn.content for turn in followup)
        return Completion(text=label, input_tokens=estimate_tokens(conversation),
                          output_tokens=estimate_tokens(label), raw={"label": label})

    async def aclose(self) -> None:
        """Nothing to release."""


__all__ = ["ReplayBackend", "estimate_tokens", "load_replay_file"]
