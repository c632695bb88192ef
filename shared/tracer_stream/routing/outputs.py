"""What the router emits for one request, given what it learned about it.

:class:`Pending` collects a request's facts through the batch (task state, audit flag,
embedding, the surrogate's guess); :func:`emit` turns them into messages:

- gate accepted → a :class:`RoutedLabel` (``source="surrogate"``) for the requester, plus, when
  the audit draw hit, an :class:`LLMRequest` that only produces a trace
  (``answer_requester=False, audit=True, gate_accepted=True``);
- otherwise → one :class:`LLMRequest` that answers the requester
  (``answer_requester=True, gate_accepted=False, reason=...``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tracer_stream.contracts import ClassificationRequest, LLMRequest, Outbound, RoutedLabel
from tracer_stream.contracts.reasons import DeferReason
from tracer_stream.routing.state import TaskState

Outcome = Literal["handled", "deferred", "dead_letter", "duplicate"]


@dataclass(frozen=True)
class RouterTopics:
    labels: str
    llm_requests: str
    dead_letter: str


@dataclass(frozen=True)
class Decision:
    """What happened to one record (for metrics and tests)."""

    task: str | None
    outcome: Outcome
    reason: str | None = None
    audit: bool = False


@dataclass
class Pending:
    """A decoded request on its way through the batch."""

    request: ClassificationRequest
    received_at: float
    state: TaskState | None = None
    defer: str | None = None
    """Why the surrogate cannot answer, decided before scoring (first reason wins)."""
    audit: bool = False
    row: np.ndarray | None = None
    embedder_id: str | None = None
    label: str | None = None
    score: float | None = None
    accepted: bool = False
    item_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def defer_with(self, reason: str) -> None:
        if self.defer is None:
            self.defer = reason

    @property
    def handled(self) -> bool:
        return self.defer is None and self.accepted and self.label is not None

    @property
    def reason(self) -> str | None:
        """Why the LLM answers (``None`` when the surrogate does)."""
        if self.handled:
            return None
        return self.defer or self.item_reason or DeferReason.NOT_ACCEPTED


def emit(p: Pending, topics: RouterTopics) -> tuple[list[Outbound], Decision]:
    """The messages for one request and the decision behind them."""
    req = p.request
    version = p.state.version if p.state is not None else None
    timings = _timings(p)
    if p.handled:
        assert p.label is not None
        label = RoutedLabel(request_id=req.request_id, task=req.task, label=p.label,
                            source="surrogate", model_version=version, accept_score=p.score,
                            timings=timings, metadata=req.metadata)
        out = [Outbound(req.reply_topic or topics.labels, label, req.request_id)]
        if p.audit:
            out.append(Outbound(topics.llm_requests, _llm_request(p, version, answer=False),
                              req.request_id))
        return out, Decision(req.task, "handled", None, p.audit)
    llm = _llm_request(p, version, answer=True)
    return [Outbound(topics.llm_requests, llm, req.request_id)], Decision(
        req.task, "deferred", p.reason, p.audit)


def _llm_request(p: Pending, version: str | None, *, answer: bool) -> LLMRequest:
    req = p.request
    return LLMRequest(
        request_id=req.request_id, task=req.task, text=req.text, answer_requester=answer,
        audit=p.audit, gate_accepted=not answer, metadata=req.metadata,
        reply_topic=req.reply_topic, reason=p.reason if answer else None,
        model_version=version, surrogate_label=p.label, accept_score=p.score,
        embedding=None if p.row is None else p.row.tolist(),
        embedder_id=p.embedder_id if p.row is not None else None, received_at=p.received_at,
    )


def _timings(p: Pending) -> dict[str, float]:
    out = {k: round(v, 3) for k, v in p.timings.items()}
    created = p.request.created_at
    if created is not None:
        out["queue_ms"] = round(max(0.0, (p.received_at - created) * 1000.0), 3)
    out["total_ms"] = round(max(0.0, (time.time() - p.received_at) * 1000.0), 3)
    return out
