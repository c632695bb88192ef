"""The message records and the JSON Schemas agree, in both directions, and every rejection
says why."""

from __future__ import annotations

import dataclasses
import typing

import jsonschema
import orjson
import pytest

from tracer_stream.contracts import (
    MESSAGE_TYPES,
    ClassificationRequest,
    DeadLetter,
    LLMRequest,
    Message,
    ModelAnnounce,
    RoutedLabel,
    Trace,
    decode,
    encode,
    load_schema,
)
from tracer_stream.errors import ContractError, MessageTooLarge

FULL: dict[type[Message], Message] = {
    ClassificationRequest: ClassificationRequest(
        "r-1", "intents", "where is my card?", metadata={"user": 7}, reply_topic="me",
        created_at=1.0),
    RoutedLabel: RoutedLabel(
        "r-1", "intents", "card_arrival", "surrogate", model_version="v3", accept_score=0.97,
        reason=None, timings={"embed_ms": 1.5, "total_ms": 3.0}, metadata={"user": 7}),
    LLMRequest: LLMRequest(
        "r-1", "intents", "where is my card?", answer_requester=True, audit=True,
        gate_accepted=False, metadata={}, reply_topic=None, reason="below_threshold",
        model_version="v3", surrogate_label="card_arrival", accept_score=0.4,
        embedding=[0.1, -0.2], embedder_id="hash/2/abc", received_at=2.0),
    Trace: Trace(
        "r-1", "intents", "where is my card?", "card_arrival", audit=True, gate_accepted=False,
        surrogate_label="card_arrival", accept_score=0.4, model_version="v3",
        embedding=[0.1, -0.2], embedder_id="hash/2/abc", teacher="openai:gpt", latency_ms=310.0,
        cost_usd=0.0001, input_tokens=120, output_tokens=3),
    ModelAnnounce: ModelAnnounce("intents", "v4", "promote", reason="certified"),
    DeadLetter: DeadLetter(
        "router", "malformed_json", "not JSON", request_id=None, task=None, field=None,
        source_topic="tracer.requests", source_partition=0, source_offset=12, payload="{",
        payload_encoding="utf-8", payload_truncated=False),
}


def test_every_message_type_has_a_full_example() -> None:
    assert set(FULL) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_record_fields_equal_schema_properties(cls: type[Message]) -> None:
    schema = load_schema(cls.KIND)
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(schema["properties"]) == fields | {"schema_version"}
    required_by_code = {
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    hints = typing.get_type_hints(cls)
    for name in fields:
        # a field the code always sets is required, or at least never null in the schema
        if name in required_by_code:
            assert name in schema["required"], name
        else:
            assert name not in schema["required"] or type(None) not in typing.get_args(
                hints[name]), name


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_code_messages_validate_against_schema(cls: type[Message]) -> None:
    schema = load_schema(cls.KIND)
    jsonschema.Draft202012Validator.check_schema(schema)
    document = orjson.loads(encode(FULL[cls], check=True))
    jsonschema.validate(document, schema)
    assert document["schema_version"] == 1
    minimal = {k: document[k] for k in schema["required"]}
    jsonschema.validate(minimal, schema)
    rebuilt = decode(cls, orjson.dumps(minimal)).to_dict()
    assert {k: rebuilt[k] for k in minimal} == minimal
    jsonschema.validate(rebuilt, schema)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_schema_documents_decode_into_records_and_back(cls: type[Message]) -> None:
    raw = encode(FULL[cls])
    decoded = decode(cls, raw)
    assert decoded == FULL[cls]
    assert encode(decoded) == raw


REQUEST = {"schema_version": 1, "request_id": "r", "task": "t", "text": "hi"}


@pytest.mark.parametrize(
    ("raw", "reason", "field", "says"),
    [
        (b"{not json", "malformed_json", None, "not valid JSON"),
        (b"", "malformed_json", None, "not valid JSON"),
        (b"[1, 2]", "schema_violation", None, "expected a JSON object"),
        (orjson.dumps({k: v for k, v in REQUEST.items() if k != "task"}), "schema_violation",
         "task", "task"),
        (orjson.dumps({**REQUEST, "text": ""}), "schema_violation", "text", "longer than"),
        (orjson.dumps({**REQUEST, "text": 5}), "schema_violation", "text", "string"),
        (orjson.dumps({**REQUEST, "task": "bad task!"}), "schema_violation", "task", "match"),
        (orjson.dumps({**REQUEST, "schema_version": 2}), "schema_violation", "schema_version",
         "const"),
        (orjson.dumps({**REQUEST, "surprise": 1}), "schema_violation", "surprise", "must not"),
        (orjson.dumps({**REQUEST, "metadata": []}), "schema_violation", "metadata", "object"),
    ],
)
def test_rejected_requests_say_why(raw: bytes, reason: str, field: str | None, says: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(ClassificationRequest, raw)
    assert caught.value.reason == reason
    assert caught.value.field == field
    assert says in str(caught.value)


def test_oversized_message_is_rejected_before_parsing() -> None:
    raw = orjson.dumps({**REQUEST, "text": "x" * 5000})
    with pytest.raises(MessageTooLarge) as caught:
        decode(ClassificationRequest, raw, max_bytes=1024)
    assert caught.value.reason == "too_large"
    assert "exceeds 1024" in str(caught.value)


def test_encode_check_rejects_an_invalid_record() -> None:
    bad = RoutedLabel("r", "t", "label", "psychic")  # type: ignore[arg-type]
    with pytest.raises(ContractError) as caught:
        encode(bad, check=True)
    assert caught.value.field == "source"
