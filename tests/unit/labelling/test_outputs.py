"""The worker's output rules (label + trace, or one dead letter) and its task cache."""

from __future__ import annotations

import base64

import pytest
import redis

from tracer_stream.config import TopicSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, RoutedLabel, Trace, encode
from tracer_stream.contracts.dead_letters import MAX_PAYLOAD_BYTES
from tracer_stream.contracts.reasons import DeadLetterReason
from tracer_stream.labelling import (
    Origin,
    RegistryUnavailable,
    TaskCache,
    answered,
    dead_letter,
    llm_failure,
)
from tracer_stream.llm import Answer, TeacherError, Usage
from tracer_stream.tasks import Task

TOPICS = TopicSettings(prefix="u.")
ORIGIN = Origin("u.llm-requests", 2, 41, b'{"request_id": "r1"}')


def request(**overrides: object) -> LLMRequest:
    fields: dict[str, object] = dict(
        request_id="r1", task="intents", text="I want my money back", answer_requester=True,
        audit=True, gate_accepted=False, reason="below_threshold", model_version="v3",
        surrogate_label="cancel", accept_score=0.41, embedding=[0.1, 0.2],
        embedder_id="hash-64", metadata={"user": 7}, received_at=1000.0, created_at=1000.5)
    fields.update(overrides)
    return LLMRequest(**fields)  # type: ignore[arg-type]


ANSWER = Answer("refund", "Refund.", Usage(calls=2, retries=1, input_tokens=90,
                                           output_tokens=3, cost_usd=0.002), 812.5,
                corrected=True)


def test_an_answered_request_yields_its_label_and_a_trace() -> None:
    label_out, trace_out = answered(request(), ANSWER, teacher="openai:m", topics=TOPICS,
                                    started_at=1001.0, llm_ms=812.5)
    assert (label_out.topic, label_out.key, label_out.kind) == ("u.labels", "r1", "routed_label")
    label = label_out.message
    assert isinstance(label, RoutedLabel)
    assert (label.label, label.source, label.reason, label.metadata) == (
        "refund", "llm", "below_threshold", {"user": 7})
    assert label.timings is not None
    assert label.timings["llm_ms"] == 812.5 and label.timings["llm_queue_ms"] == 500.0
    assert "queue_ms" not in label.timings  # client → router: the worker cannot know it
    assert label.timings["total_ms"] >= 1000.0
    assert trace_out.topic == "u.traces" and isinstance(trace_out.message, Trace)
    trace = trace_out.message
    assert (trace.label, trace.audit, trace.gate_accepted, trace.surrogate_label) == (
        "refund", True, False, "cancel")
    assert (trace.model_version, trace.embedding, trace.embedder_id, trace.teacher) == (
        "v3", [0.1, 0.2], "hash-64", "openai:m")
    assert (trace.latency_ms, trace.cost_usd, trace.input_tokens, trace.output_tokens) == (
        812.5, 0.002, 90, 3)
    for out in (label_out, trace_out):
        encode(out.message, check=True)


def test_audit_copies_yield_only_a_trace_and_reply_topics_are_honoured() -> None:
    [only] = answered(request(answer_requester=False), ANSWER, teacher="t", topics=TOPICS,
                      started_at=1001.0, llm_ms=812.5)
    assert only.kind == "trace"
    label_out, _ = answered(request(reply_topic="my.replies"), ANSWER, teacher="t",
                            topics=TOPICS, started_at=1001.0, llm_ms=812.5)
    assert label_out.topic == "my.replies"


def test_teacher_failures_become_dead_letters_with_the_raw_answer() -> None:
    unparseable = TeacherError("twice outside", reason="unparseable_answer", usage=Usage(),
                               latency_ms=5.0, raw_answer="maybe refund?")
    out = llm_failure(request(), unparseable, origin=ORIGIN, topics=TOPICS)
    letter = out.message
    assert isinstance(letter, DeadLetter) and out.topic == "u.dead-letter"
    assert (letter.reason, letter.stage, letter.request_id, letter.task) == (
        "unparseable_answer", "worker", "r1", "intents")
    assert "raw answer: maybe refund?" in letter.detail
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "u.llm-requests", 2, 41)
    assert letter.payload == '{"request_id": "r1"}' and letter.payload_encoding == "utf-8"
    encode(letter, check=True)
    http = TeacherError("denied", reason="http_401", usage=Usage(), latency_ms=1.0)
    letter = llm_failure(request(), http, origin=ORIGIN, topics=TOPICS).message
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "llm_failure" and letter.detail.startswith("[http_401]")


def test_dead_letter_payloads_are_base64_when_binary_and_truncated_when_huge() -> None:
    binary = dead_letter(DeadLetterReason.MALFORMED_JSON, "x", topics=TOPICS,
                         origin=Origin("t", 0, 0, b"\xff\xfe")).message
    assert isinstance(binary, DeadLetter) and binary.payload_encoding == "base64"
    assert base64.b64decode(binary.payload or "") == b"\xff\xfe"
    huge = dead_letter(DeadLetterReason.TOO_LARGE, "x", topics=TOPICS,
                       origin=Origin("t", 0, 0, b"a" * (MAX_PAYLOAD_BYTES + 10))).message
    assert isinstance(huge, DeadLetter) and huge.payload_truncated is True
    assert len(huge.payload or "") == MAX_PAYLOAD_BYTES
    encode(huge, check=True)


class FakeRegistry:
    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.down = False
        self.reads = 0

    def get_task(self, name: str) -> Task | None:
        self.reads += 1
        if self.down:
            raise redis.ConnectionError("refused")
        return self.tasks.get(name)


def test_the_task_cache_serves_known_tasks_through_a_redis_outage() -> None:
    registry = FakeRegistry()
    registry.tasks["intents"] = Task(name="intents", labels=["refund", "cancel"])
    now = [0.0]
    seen: list[tuple[str, bool]] = []
    cache = TaskCache(registry, refresh_s=10.0, clock=lambda: now[0],  # type: ignore[arg-type]
                      observe=lambda op, ok: seen.append((op, ok)))
    assert cache.get("intents") is registry.tasks["intents"]
    assert cache.get("intents") is not None and registry.reads == 1
    registry.down = True
    now[0] = 60.0
    assert cache.get("intents") is not None
    with pytest.raises(RegistryUnavailable, match="other"):
        cache.get("other")
    registry.down = False
    assert cache.get("other") is None
    # every read is reported (the worker's redis_errors_total{operation="task_read"})
    assert seen == [("task_read", True), ("task_read", False), ("task_read", False),
                    ("task_read", True)]
    del registry.tasks["intents"]
    now[0] = 120.0
    assert cache.get("intents") is None


def test_the_task_cache_sees_a_change_after_refresh_s_or_at_once_when_invalidated() -> None:
    registry = FakeRegistry()
    registry.tasks["intents"] = Task(name="intents", labels=["refund", "cancel"])
    now = [0.0]
    cache = TaskCache(registry, refresh_s=2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert cache.get("intents") is not None and cache.fresh("intents")
    registry.tasks["intents"] = Task(name="intents", labels=["refund", "cancel", "other"])
    now[0] = 1.9
    assert cache.get("intents").label_names == ("refund", "cancel")  # type: ignore[union-attr]
    now[0] = 2.0
    assert not cache.fresh("intents")
    assert cache.get("intents").label_names == ("refund", "cancel", "other")  # type: ignore[union-attr]
    registry.tasks["intents"] = Task(name="intents", labels=["yes", "no"])
    cache.invalidate("intents")
    assert cache.get("intents").label_names == ("yes", "no")  # type: ignore[union-attr]
    assert registry.reads == 3
