"""The batch router's decisions, with a fake surrogate and no services."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import orjson

from tests.unit.routing.conftest import TASK, FakeRecord, Rig, request, serving
from tracer_stream.contracts import DeadLetter, LLMRequest, RoutedLabel, encode
from tracer_stream.contracts.reasons import DeferReason
from tracer_stream.routing import TaskState


def test_accepted_requests_get_surrogate_labels_the_rest_go_to_the_llm(rig: Rig) -> None:
    serving(rig)
    result = rig.router.route([
        request("r1", "lost my card", reply_topic="mine", metadata={"user": 7}),
        request("r2", "what is the weather", created_at=1.0),
    ])
    (label, llm) = result.outputs
    assert label.topic == "mine" and label.key == "r1"
    assert isinstance(label.message, RoutedLabel)
    assert (label.message.label, label.message.source, label.message.model_version) == (
        "card", "surrogate", "v1")
    assert label.message.metadata == {"user": 7} and label.message.accept_score == 0.9
    assert set(label.message.timings or {}) >= {"embed_ms", "route_ms", "total_ms"}
    assert llm.topic == "llm" and llm.key == "r2"
    msg = llm.message
    assert isinstance(msg, LLMRequest)
    assert (msg.answer_requester, msg.audit, msg.gate_accepted, msg.reason) == (
        True, False, False, "below_threshold")
    assert msg.surrogate_label == "other" and msg.model_version == "v1"
    assert msg.embedding is not None and len(msg.embedding) == 32
    assert msg.embedder_id == rig.embedder.identity.id
    assert [d.outcome for d in result.decisions] == ["handled", "deferred"]
    assert result.answered == [("intents", "r1"), ("intents", "r2")]
    assert rig.surrogate.seen_alpha == [TASK.alpha]
    for out in result.outputs:
        encode(out.message, check=True)  # every output satisfies its schema


def test_bad_records_are_dead_lettered_with_reason_field_and_payload(rig: Rig) -> None:
    serving(rig)
    records = [
        FakeRecord(b"{not json", offset_=10, partition_=2),
        FakeRecord(orjson.dumps({"schema_version": 1, "request_id": "x", "task": "intents"})),
        FakeRecord(b'{"pad": "' + b"x" * 5000 + b'"}'),
        request("long", "y" * 101),
        request("who", "hello", task="nope"),
        FakeRecord(b"\xff\xfe binary"),
        FakeRecord(None),
    ]
    result = rig.router.route(records)
    letters = [o.message for o in result.outputs]
    assert all(isinstance(m, DeadLetter) for m in letters)
    assert all(o.topic == "dlq" for o in result.outputs)
    got = [(m.reason, m.field) for m in letters]
    assert got == [("malformed_json", None), ("schema_violation", "text"), ("too_large", None),
                   ("text_too_long", "text"), ("unknown_task", "task"),
                   ("malformed_json", None), ("malformed_json", None)]
    first = letters[0]
    assert isinstance(first, DeadLetter)
    assert (first.source_topic, first.source_partition, first.source_offset) == (
        "requests", 2, 10)
    assert first.payload == "{not json" and first.payload_encoding == "utf-8"
    binary = letters[5]
    assert isinstance(binary, DeadLetter) and binary.payload_encoding == "base64"
    assert letters[1].request_id == "x"  # invalid, but still matchable to its request
    assert letters[4].request_id == "who"
    for out in result.outputs:
        encode(out.message, check=True)


def test_unreadable_records_keep_their_request_id_and_tell_empty_from_tombstone(
        rig: Rig) -> None:
    """The request id of an unreadable record comes from the message when any of it is
    readable (above 1 MiB from its beginning), else from the Kafka key; an empty message and a
    tombstone are told apart."""
    serving(rig)
    huge = b'{"request_id": "big-1", "task": "intents", "text": "' + b"x" * 1_100_000 + b'"}'
    records = [
        FakeRecord(b"{not json", key_=b"keyed-1"),
        FakeRecord(huge, key_=b"ignored"),
        FakeRecord(b"", key_=b"empty-1"),
        FakeRecord(None, key_=b"tomb-1"),
        FakeRecord(b"{not json"),
    ]
    result = rig.router.route(records)
    letters = [o.message for o in result.outputs]
    assert all(isinstance(m, DeadLetter) for m in letters)
    assert [m.request_id for m in letters] == ["keyed-1", "big-1", "empty-1", "tomb-1", None]
    assert [o.key for o in result.outputs] == ["keyed-1", "big-1", "empty-1", "tomb-1", None]
    assert letters[1].reason == "too_large" and letters[1].task == "intents"
    empty, tomb = letters[2], letters[3]
    assert (empty.payload, empty.payload_encoding) == ("", "utf-8")
    assert (tomb.payload, tomb.payload_encoding) == (None, None)
    assert "empty message" in empty.detail and "tombstone" in tomb.detail
    for out in result.outputs:
        encode(out.message, check=True)


def test_every_deferral_reason(rig: Rig) -> None:
    cases = {
        "nomodel": TaskState(task=TASK.model_copy(update={"name": "nomodel"}),
                             unavailable=DeferReason.NO_MODEL),
        "closed": TaskState(task=TASK.model_copy(update={"name": "closed"}), version="v3",
                            model=rig.surrogate, gate_open=False),
        "mismatch": TaskState(task=TASK.model_copy(update={"name": "mismatch"}), version="v2",
                              unavailable=DeferReason.EMBEDDER_MISMATCH),
    }
    for state in cases.values():
        rig.serve(state)
    result = rig.router.route([request(f"r-{n}", "my card", task=n) for n in cases])
    got = {o.message.task: o.message for o in result.outputs}
    assert {n: m.reason for n, m in got.items()} == {
        "nomodel": "no_model", "closed": "gate_closed", "mismatch": "embedder_mismatch"}
    closed = got["closed"]
    assert isinstance(closed, LLMRequest)
    # with the gate closed the surrogate's guess still travels, for the live monitor
    assert closed.surrogate_label == "card" and closed.gate_accepted is False


def test_surrogate_error_defers_the_whole_task(rig: Rig) -> None:
    serving(rig)
    rig.surrogate.fail = True
    result = rig.router.route([request("a", "my card"), request("b", "other")])
    assert [(d.outcome, d.reason) for d in result.decisions] == [
        ("deferred", "surrogate_error"), ("deferred", "surrogate_error")]


def test_embedder_failure_defers_without_embedding(rig: Rig) -> None:
    serving(rig)

    def broken(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("onnx exploded")

    rig.embedder.embed = broken  # type: ignore[method-assign]
    result = rig.router.route([request("a", "my card")])
    msg = result.outputs[0].message
    assert isinstance(msg, LLMRequest)
    assert msg.reason == "embedder_error" and msg.embedding is None and msg.embedder_id is None


def test_audit_flag_is_drawn_before_the_gate_and_audited_answers_also_go_to_the_llm(
        rig: Rig) -> None:
    serving(rig, task=TASK.model_copy(update={"audit_rate": 1.0}))
    result = rig.router.route([request("a", "my card"), request("b", "weather")])
    kinds = [(o.topic, type(o.message).__name__) for o in result.outputs]
    assert kinds == [("labels", "RoutedLabel"), ("llm", "LLMRequest"), ("llm", "LLMRequest")]
    audit = result.outputs[1].message
    assert isinstance(audit, LLMRequest)
    assert (audit.answer_requester, audit.audit, audit.gate_accepted, audit.reason) == (
        False, True, True, None)
    deferred = result.outputs[2].message
    assert isinstance(deferred, LLMRequest) and deferred.audit and deferred.answer_requester
    assert all(d.audit for d in result.decisions)


def test_audit_rate_is_respected(rig: Rig) -> None:
    serving(rig, task=TASK.model_copy(update={"audit_rate": 0.2}))
    rig.router.rng = random.Random(1)
    result = rig.router.route([request(f"r{i}", "my card") for i in range(2000)])
    rate = sum(d.audit for d in result.decisions) / 2000
    assert 0.17 < rate < 0.23


def test_duplicates_within_a_batch_are_answered_once(rig: Rig) -> None:
    serving(rig)
    result = rig.router.route([request("a", "my card"), request("a", "my card"),
                               request("a", "my card", task="other-task")])
    assert [d.outcome for d in result.decisions] == ["handled", "duplicate", "dead_letter"]
    assert sum(isinstance(o.message, RoutedLabel) for o in result.outputs) == 1


def test_redis_down_keeps_serving_known_tasks_and_defers_or_dead_letters_the_rest(
        rig: Rig) -> None:
    serving(rig)
    rig.router.route([request("warm", "my card")])
    rig.loader.down = True
    rig.holder.replace_all({})  # nothing usable in memory any more
    result = rig.router.route([request("a", "my card"), request("b", "hi", task="never")])
    assert [(d.outcome, d.reason) for d in result.decisions] == [
        ("deferred", "redis_unavailable"), ("dead_letter", "redis_unavailable")]


def test_stale_registry_defers_everything(rig: Rig) -> None:
    serving(rig)
    rig.router.limits.registry_max_staleness_s = 0.0
    rig.guard.failed(RuntimeError("down"), "dedupe_read")
    result = rig.router.route([request("a", "my card")])
    assert result.decisions[0].reason == "registry_stale"


def test_identical_texts_are_embedded_once(rig: Rig) -> None:
    serving(rig)
    rig.router.route([request("a", "my card"), request("b", "my card"), request("c", "x")])
    assert sorted(rig.embedder.calls[0]) == ["my card", "x"]


def test_audit_draws_use_the_larger_of_the_task_rate_and_the_boost(rig: Rig) -> None:
    def rate(task_rate: float, boost: float) -> float:
        rig.serve(TaskState(task=TASK.model_copy(update={"audit_rate": task_rate}),
                            version="v1", model=rig.surrogate, audit_boost=boost))
        rig.router.rng = random.Random(2)
        result = rig.router.route([request(f"r{i}", "my card") for i in range(2000)])
        return sum(d.audit for d in result.decisions) / 2000

    assert 0.22 < rate(0.02, 0.25) < 0.28   # boosted
    assert 0.17 < rate(0.2, 0.05) < 0.23    # a boost below the task's rate changes nothing
    assert rate(0.0, 0.0) == 0.0


def test_an_llm_request_over_the_size_limit_goes_without_its_embedding(rig: Rig) -> None:
    serving(rig)
    result = rig.router.route([request("mid", "weather", metadata={"pad": "x" * 3700})])
    (out,) = result.outputs
    assert isinstance(out.message, LLMRequest) and out.message.request_id == "mid"
    assert out.message.embedding is None and out.message.embedder_id is None
    assert len(encode(out.message)) <= 4096


def test_a_request_whose_llm_request_cannot_fit_is_dead_lettered_with_its_id_and_task(
        rig: Rig) -> None:
    serving(rig)
    result = rig.router.route([request("big", "weather", metadata={"pad": "x" * 3900})])
    (out,) = result.outputs
    assert isinstance(out.message, DeadLetter)
    assert (out.message.reason, out.message.request_id, out.message.task) == (
        "too_large", "big", "intents")
    assert result.answered == [] and result.dead_lettered == [(("intents", "big"), (0, 0))]


def test_a_dead_lettered_request_is_marked_with_its_position_not_as_answered(rig: Rig) -> None:
    result = rig.router.route([request("who", "hi", task="never-registered")])
    assert [d.outcome for d in result.decisions] == ["dead_letter"]
    assert result.answered == []
    assert result.dead_lettered == [(("never-registered", "who"), (0, 0))]
