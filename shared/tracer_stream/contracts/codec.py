"""Encode and decode topic messages with orjson, validated against their JSON Schemas.

Validation uses validators compiled once from ``schemas/*.json`` (fastjsonschema), so the
schemas stay the single source of truth and the hot path pays microseconds per message.
Every rejection raises :class:`~tracer_stream.errors.ContractError` with a machine-readable
``reason`` (``too_large``, ``malformed_json``, ``schema_violation``) and the offending ``field``.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Callable
from typing import Any, TypeVar

import fastjsonschema
import orjson

from tracer_stream.contracts.messages import MESSAGE_TYPES, Message
from tracer_stream.errors import ContractError, MessageTooLarge

M = TypeVar("M", bound=Message)

DEFAULT_MAX_BYTES = 256 * 1024
_FIELD_IN_PATH = re.compile(r"^data\.?")


@functools.cache
def load_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a message kind, e.g. ``load_schema("trace")``."""
    resource = importlib.resources.files("tracer_stream.contracts") / "schemas" / f"{kind}.json"
    try:
        return orjson.loads(resource.read_bytes())
    except FileNotFoundError:
        raise ContractError(f"no schema for message kind {kind!r}", reason="unknown_kind") from None


@functools.cache
def _validator(kind: str) -> Callable[[Any], Any]:
    return fastjsonschema.compile(load_schema(kind))


def validate(kind: str, document: Any) -> None:
    """Raise :class:`ContractError` unless ``document`` satisfies the schema of ``kind``."""
    try:
        _validator(kind)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        field = _FIELD_IN_PATH.sub("", exc.name or "") or None
        if field is None and exc.rule == "additionalProperties":
            known = load_schema(kind)["properties"]
            field = next((k for k in document if k not in known), None)
        if field is None and exc.rule == "required":
            missing = [k for k in (exc.rule_definition or []) if k not in (document or {})]
            field = missing[0] if missing else None
        raise ContractError(
            f"{kind} violates its schema: {exc.message}", reason="schema_violation", field=field
        ) from None


def decode(cls: type[M], raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> M:
    """Parse and validate one message of type ``cls`` from its raw bytes."""
    if raw is None:
        raise ContractError(f"{cls.KIND}: empty message (null value)", reason="malformed_json")
    if len(raw) > max_bytes:
        raise MessageTooLarge(f"{cls.KIND}: message of {len(raw)} bytes exceeds {max_bytes}")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"{cls.KIND}: not valid JSON: {exc}", reason="malformed_json") from None
    if not isinstance(document, dict):
        raise ContractError(
            f"{cls.KIND}: expected a JSON object, got {type(document).__name__}",
            reason="schema_violation",
        )
    validate(cls.KIND, document)
    document.pop("schema_version")
    return cls(**document)


def encode(message: Message, *, check: bool = False) -> bytes:
    """Serialise a message to JSON bytes. ``check=True`` validates it against its schema first
    (tests do; services trust their own constructors)."""
    document = message.to_dict()
    if check:
        validate(message.KIND, document)
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


__all__ = ["MESSAGE_TYPES", "decode", "encode", "load_schema", "validate"]
