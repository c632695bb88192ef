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
from tracer_stream.contracts.outbound import Outbound

__all__ = [
    "MESSAGE_TYPES",
    "SCHEMA_VERSION",
    "ClassificationRequest",
    "DeadLetter",
    "LLMRequest",
    "Message",
    "ModelAnnounce",
    "Outbound",
    "RoutedLabel",
    "Trace",
    "decode",
    "encode",
    "load_schema",
    "now",
    "validate",
]
