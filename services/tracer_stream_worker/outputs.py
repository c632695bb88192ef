"""What one LLM request turns into: a label (for the requester) and a trace, or a dead
letter. Pure functions of their inputs, so the rules are easy to read and to test."""

from __future__ import annotations

from dataclasses import dataclass

from tracer_stream.config import TopicSettings
from tracer_stream.contracts import LLMRequest, Outbound, RoutedLabel, Trace, now
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.contracts.dead_letters import dead_letter as build_dead_letter
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.llm import Answer, TeacherError


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an input record came from, for dead letters."""

    topic: str | None
    partition: int | None
    offset: int | None
    value: bytes | None


def answered(request: LLMRequest, answer: Answer, *, teacher: str, topics: TopicSettings,
             started_at: float) -> list[Outbound]:
    """The requester's label (only when ``answer_requester``) and always a trace."""
    outputs = []
    finished = now()
    if request.answer_requester:
        timings = {
            "queue_ms": _ms(started_at - request.created_at),
            "llm_ms": round(answer.latency_ms, 3),
            "total_ms": _ms(finished - (request.received_at or request.created_at)),
        }
        label = RoutedLabel(
            request_id=request.request_id, task=request.task, label=answer.label, source="llm",
            model_version=request.model_version, accept_score=request.accept_score,
            reason=request.reason, timings=timings, metadata=request.metadata,
        )
        outputs.append(Outbound(request.reply_topic or topics.name("labels"), label,
                                request.request_id))
    trace = Trace(
        request_id=request.request_id, task=request.task, text=request.text,
        label=answer.label, audit=request.audit, gate_accepted=request.gate_accepted,
        surrogate_label=request.surrogate_label, accept_score=request.accept_score,
        model_version=request.model_version, reason=request.reason,
        embedding=request.embedding, embedder_id=request.embedder_id, teacher=teacher,
        latency_ms=round(answer.latency_ms, 3), cost_usd=answer.usage.cost_usd,
        input_tokens=answer.usage.input_tokens, output_tokens=answer.usage.output_tokens,
    )
    outputs.append(Outbound(topics.name("traces"), trace, request.request_id))
    return outputs


def llm_failure(request: LLMRequest, error: TeacherError, *, origin: Origin,
                topics: TopicSettings) -> Outbound:
    """The dead letter of a request the teacher could not label."""
    reason = failure_reason(error)
    detail = f"[{error.reason}] {error.message}"
    if error.raw_answer is not None:
        detail += f" | raw answer: {error.raw_answer}"
    return dead_letter(reason, detail, origin=origin, topics=topics,
                       request_id=request.request_id, task=request.task)


def failure_reason(error: TeacherError) -> str:
    """``unparseable_answer`` keeps its reason; every other teacher failure is
    ``llm_failure`` with the specific cause (``http_401``, ``timeout`` ...) in the detail."""
    if error.reason == DeadLetterReason.UNPARSEABLE_ANSWER:
        return DeadLetterReason.UNPARSEABLE_ANSWER
    return DeadLetterReason.LLM_FAILURE


def dead_letter(reason: str, detail: str, *, origin: Origin, topics: TopicSettings,
                request_id: str | None = None, task: str | None = None,
                field: str | None = None) -> Outbound:
    """A dead letter carrying the original record (UTF-8 or base64, truncated if huge)."""
    letter = build_dead_letter(
        "worker", reason, detail, raw=origin.value,
        source=Source(origin.topic, origin.partition, origin.offset), field=field,
        request_id=request_id, task=task)
    return Outbound(topics.name("dead_letter"), letter, request_id)


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000.0, 3)


__all__ = ["Origin", "answered", "dead_letter", "failure_reason",
           "llm_failure"]
