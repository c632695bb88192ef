"""Topic message contracts: typed records, JSON Schemas, and the orjson codec."""

from tracer_stream.contracts.codec import decode, encode, load_schema, validate
from tracer_stream.contracts.messages import (
    MESSAGE_TYPES,
    SCHEMA_VERSION,
    ClassificationRequest,
    DeadLetter,
    LLMRequest,
    Message,
    ModelAnnounce,
    RoutedLabel,
    Trace,
    now,
)

__all__ = [
    "MESSAGE_TYPES",
    "SCHEMA_VERSION",
    "ClassificationRequest",
    "DeadLetter",
    "LLMRequest",
    "Message",
    "ModelAnnounce",
    "RoutedLabel",
    "Trace",
    "decode",
    "encode",
    "load_schema",
    "now",
    "validate",
]
