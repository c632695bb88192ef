"""The topic messages as typed records. Their JSON Schemas in ``schemas/`` are the public
contract; ``tests/unit/test_contracts.py`` proves that these records and the schemas agree.

Fields that are ``None`` are left out of the encoded JSON.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

SCHEMA_VERSION = 1

Source = Literal["surrogate", "llm", "fallback"]
Stage = Literal["router", "worker", "trainer", "client"]
AnnounceAction = Literal["promote", "rollback", "close_gate", "open_gate", "audit_boost"]


def now() -> float:
    """Wall-clock seconds, the timestamp unit of every message."""
    return time.time()


@dataclass(slots=True)
class Message:
    """Base of every message; ``KIND`` names its schema file (``schemas/<KIND>.json``)."""

    KIND: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


@dataclass(slots=True)
class ClassificationRequest(Message):
    KIND: ClassVar[str] = "classification_request"

    request_id: str
    task: str
    text: str
    metadata: dict[str, Any] | None = None
    reply_topic: str | None = None
    created_at: float | None = None


@dataclass(slots=True)
class RoutedLabel(Message):
    KIND: ClassVar[str] = "routed_label"

    request_id: str
    task: str
    label: str
    source: Source
    model_version: str | None = None
    accept_score: float | None = None
    reason: str | None = None
    timings: dict[str, float] | None = None
    metadata: dict[str, Any] | None = None
    created_at: float = dataclasses.field(default_factory=now)


@dataclass(slots=True)
class LLMRequest(Message):
    KIND: ClassVar[str] = "llm_request"

    request_id: str
    task: str
    text: str
    answer_requester: bool
    audit: bool
    gate_accepted: bool
    metadata: dict[str, Any] | None = None
    reply_topic: str | None = None
    reason: str | None = None
    model_version: str | None = None
    surrogate_label: str | None = None
    accept_score: float | None = None
    embedding: list[float] | None = None
    embedder_id: str | None = None
    received_at: float | None = None
    created_at: float = dataclasses.field(default_factory=now)


@dataclass(slots=True)
class Trace(Message):
    KIND: ClassVar[str] = "trace"

    request_id: str
    task: str
    text: str
    label: str
    audit: bool
    gate_accepted: bool
    surrogate_label: str | None = None
    accept_score: float | None = None
    model_version: str | None = None
    reason: str | None = None
    embedding: list[float] | None = None
    embedder_id: str | None = None
    teacher: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    created_at: float = dataclasses.field(default_factory=now)


@dataclass(slots=True)
class ModelAnnounce(Message):
    KIND: ClassVar[str] = "model_announce"

    task: str
    version: str | None
    action: AnnounceAction
    reason: str | None = None
    created_at: float = dataclasses.field(default_factory=now)


@dataclass(slots=True)
class DeadLetter(Message):
    KIND: ClassVar[str] = "dead_letter"

    stage: Stage
    reason: str
    detail: str
    request_id: str | None = None
    task: str | None = None
    field: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    payload: str | None = None
    payload_encoding: Literal["utf-8", "base64"] | None = None
    payload_truncated: bool | None = None
    created_at: float = dataclasses.field(default_factory=now)


MESSAGE_TYPES: tuple[type[Message], ...] = (
    ClassificationRequest, RoutedLabel, LLMRequest, Trace, ModelAnnounce, DeadLetter,
)
