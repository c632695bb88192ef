"""The values that flow through the LLM layer: the prompt of one labelling, a chat turn, one
completion, the usage and cost of a labelling, the final answer, and the :class:`Backend`
protocol every provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class LabelPrompt:
    """What one labelling asks: the task's ``instructions`` (trusted, from the task
    definition), its ``labels`` and the untrusted ``text`` to classify. Backends put the
    instructions and labels in the system role and only the delimited text in the user
    role (see :mod:`tracer_stream.llm.prompt`)."""

    instructions: str
    labels: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of a conversation after the initial prompt (the corrective retry)."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """What one logical backend call returned. ``answer`` is the label candidate (the
    ``label`` field of a structured answer, or the text of a plain one), ``raw`` the model's
    output as received, ``retries`` the failed attempts the SDK retried before it."""

    answer: str
    raw: str
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class Pricing:
    """Price of one call: a flat fee plus per-1k-token rates (USD)."""

    per_call: float = 0.0
    per_1k_input: float = 0.0
    per_1k_output: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (self.per_call + input_tokens / 1000 * self.per_1k_input
                + output_tokens / 1000 * self.per_1k_output)


@dataclass(slots=True)
class Usage:
    """Accumulated over every call made to label one text (retries and corrections
    included). Failed attempts (errors, timeouts) count as retries and cost nothing."""

    calls: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, completion: Completion, pricing: Pricing) -> None:
        self.calls += 1
        self.retries += completion.retries
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.cost_usd += pricing.cost(completion.input_tokens, completion.output_tokens)


@dataclass(frozen=True, slots=True)
class Answer:
    """A label in the task's label space, with what it took to get it. ``raw`` is the
    model's answer before parsing (the ``label`` field of a structured answer)."""

    label: str
    raw: str
    usage: Usage
    latency_ms: float
    corrected: bool = False
    """The first answer was unparseable and the corrective retry produced the label."""


class Backend(Protocol):
    """An LLM provider. ``name`` identifies the teacher (``"openai:gpt-4o-mini"``).

    ``classify`` makes one logical call (the provider SDK's retries inside it) and raises
    :class:`~tracer_stream.llm.errors.BackendError` when it fails; ``followup`` continues the
    conversation after the prompt.
    """

    name: str

    async def classify(self, prompt: LabelPrompt,
                       followup: Sequence[ChatTurn] = ()) -> Completion: ...

    async def aclose(self) -> None: ...
