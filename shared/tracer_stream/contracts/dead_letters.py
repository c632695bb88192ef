"""Building a :class:`DeadLetter` from a record that could not be processed.

Every service dead-letters the same way: the reason and a human-readable detail, the record's
topic, partition and offset when known, and the original payload — UTF-8 text when it is text,
else base64 — cut at :data:`MAX_PAYLOAD_BYTES` (then ``payload_truncated``).

>>> letter = dead_letter("trainer", "malformed_json", "not JSON", raw=b"{oops",
...                      source=Source("tracer.traces", 0, 41))
>>> letter.payload, letter.payload_encoding, letter.source_offset
('{oops', 'utf-8', 41)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

from tracer_stream.contracts.messages import DeadLetter, Stage

MAX_PAYLOAD_BYTES = 64 * 1024
"""Dead letters carry at most this much of the original payload (then ``payload_truncated``)."""
MAX_DETAIL_CHARS = 4000
"""Longer details are cut (with an ellipsis)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where the record came from (each part None when unknown)."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


def dead_letter(stage: Stage, reason: str, detail: str, *, raw: bytes | None,
                source: Source = Source(), field: str | None = None,
                request_id: str | None = None, task: str | None = None,
                max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> DeadLetter:
    """The dead letter of ``raw`` (see the module docstring)."""
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[:MAX_DETAIL_CHARS] + "…"
    payload: str | None = None
    encoding: Literal["utf-8", "base64"] | None = None
    truncated = False
    if raw is not None:
        truncated = len(raw) > max_payload_bytes
        payload, encoding = _as_text(raw[:max_payload_bytes], cut=truncated)
    return DeadLetter(
        stage=stage, reason=reason, detail=detail, request_id=request_id, task=task,
        field=field, source_topic=source.topic, source_partition=source.partition,
        source_offset=source.offset, payload=payload, payload_encoding=encoding,
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
