"""The consumed record as the router sees it, and dead letters built from it."""

from __future__ import annotations

import base64
from typing import Literal, Protocol

from tracer_stream.contracts import DeadLetter

MAX_PAYLOAD_BYTES = 64 * 1024
"""Dead letters carry at most this much of the original payload (then ``payload_truncated``)."""


class Record(Protocol):
    """The subset of :class:`confluent_kafka.Message` the router reads."""

    def value(self) -> bytes | None: ...

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...


def dead_letter(record: Record, reason: str, detail: str, *, field: str | None = None,
                request_id: str | None = None, task: str | None = None,
                max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> DeadLetter:
    """A router dead letter that points at the record and carries its payload."""
    raw = record.value() or b""
    truncated = len(raw) > max_payload_bytes
    head = raw[:max_payload_bytes]
    payload, encoding = _as_text(head, cut=truncated)
    return DeadLetter(
        stage="router", reason=reason, detail=detail[:2000], request_id=request_id, task=task,
        field=field, source_topic=record.topic(), source_partition=record.partition(),
        source_offset=record.offset(), payload=payload, payload_encoding=encoding,
        payload_truncated=truncated or None,
    )


def _as_text(raw: bytes, *, cut: bool) -> tuple[str, Literal["utf-8", "base64"]]:
    """UTF-8 text when the bytes are text (allowing a character split by the cut), else base64."""
    for trim in range(4 if cut else 1):
        try:
            return raw[: len(raw) - trim].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            continue
    return base64.b64encode(raw).decode("ascii"), "base64"
