"""A message on its way out: where it goes and under which key.

Every service hands its outputs to :meth:`tracer_stream.bus.Producer.deliver` as a list of
:class:`Outbound`; the key is the request id whenever there is one, so a request's label, trace
and dead letter land on the same partition and a compacted topic keeps one record per request.

>>> from tracer_stream.contracts import DeadLetter
>>> out = Outbound("tracer.dead-letter", DeadLetter(stage="router", reason="unknown_task",
...                                                 detail="task 'x' is not registered"), "r-1")
>>> out.kind, out.key
('dead_letter', 'r-1')
"""

from __future__ import annotations

from dataclasses import dataclass

from tracer_stream.contracts.messages import Message


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to produce to ``topic``, keyed by ``key`` (the request id when known)."""

    topic: str
    message: Message
    key: str | None = None

    @property
    def kind(self) -> str:
        """The message kind (``routed_label``, ``trace``, ``dead_letter``...), for metrics."""
        return self.message.KIND


__all__ = ["Outbound"]
