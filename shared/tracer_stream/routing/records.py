"""The consumed record as the router sees it, and dead letters built from it."""

from __future__ import annotations

from typing import Protocol

from tracer_stream.contracts import DeadLetter
from tracer_stream.contracts.dead_letters import MAX_PAYLOAD_BYTES, Source
from tracer_stream.contracts.dead_letters import dead_letter as build_dead_letter


class Record(Protocol):
    """The subset of :class:`confluent_kafka.Message` the router reads."""

    def value(self) -> bytes | None: ...

    def key(self) -> bytes | str | None: ...

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...


def letter_for(record: Record, reason: str, detail: str, *, field: str | None = None,
                request_id: str | None = None, task: str | None = None,
                max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> DeadLetter:
    """A router dead letter that points at the record and carries its payload (none for a
    tombstone, whose value is null; an empty string for an empty message)."""
    return build_dead_letter(
        "router", reason, detail, raw=record.value(),
        source=Source(record.topic(), record.partition(), record.offset()), field=field,
        request_id=request_id, task=task, max_payload_bytes=max_payload_bytes)
