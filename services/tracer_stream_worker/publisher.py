"""Publishing finished requests from a thread of its own, so the event loop never waits for
the broker: whatever finished while the previous group was being delivered goes out as the
next group, through the bus's one delivery policy (:meth:`tracer_stream.bus.Producer.deliver`).
After the broker acknowledged a group, its requests are marked answered
(:class:`~tracer_stream.labelling.OutcomeLog`) and only then handed back as acknowledged, so a
request's offset is never committed before its outputs are stored and marked."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tracer_stream.bus import DeliveryPolicy, Producer
from tracer_stream.bus.producer import Reroute
from tracer_stream.contracts import Outbound
from tracer_stream.errors import BusError
from tracer_stream.labelling import OutcomeLog, Partition
from tracer_stream.labelling.outcomes import RecordKey, position

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finished:
    """The outputs of the record at ``offset`` of ``partition`` (none for a skipped one)."""

    partition: Partition
    offset: int
    outputs: list[Outbound]

    def answered(self) -> tuple[RecordKey, str] | None:
        """``(record, kind)`` for the outcome log, when the outputs name the request."""
        for out in self.outputs:
            task, request_id = getattr(out.message, "task", None), out.key
            if task and request_id:
                return (task, request_id, position(*self.partition, self.offset)), out.kind
        return None


class Publisher:
    """Delivers :class:`Finished` groups in order from a daemon thread."""

    def __init__(self, producer: Producer, outcomes: OutcomeLog | None,
                 policy: DeliveryPolicy | None = None,
                 sleep: Callable[[float], object] = time.sleep,
                 reroute: Reroute | None = None) -> None:
        self._producer = producer
        self._outcomes = outcomes
        self._reroute = reroute
        self._policy = policy or DeliveryPolicy()
        self._sleep = sleep
        self._queue: list[Finished] = []
        self._acked: list[Finished] = []
        self._busy = False
        self._closing = False
        self.failure: BusError | None = None
        """Set when a group could not be delivered: the worker must stop (not committed)."""
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def submit(self, item: Finished) -> None:
        with self._cond:
            self._queue.append(item)
            self._cond.notify_all()

    def take_acknowledged(self) -> list[Finished]:
        """Everything acknowledged (and marked) since the last call."""
        with self._cond:
            acked, self._acked = self._acked, []
        return acked

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until everything submitted so far is acknowledged (or failed)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (not self._queue and not self._busy) or self.failure is not None,
                timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        self.wait_idle(timeout_s)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue:
                    return
                group, self._queue = self._queue, []
                self._busy = True
            try:
                self._deliver(group)
            except BusError as exc:
                log.error("cannot publish %d request(s) (%s); stopping uncommitted", len(group),
                          exc)
                with self._cond:
                    self.failure, self._busy = exc, False
                    self._cond.notify_all()
                return
            with self._cond:
                self._acked.extend(group)
                self._busy = False
                self._cond.notify_all()

    def _deliver(self, group: list[Finished]) -> None:
        outputs = [out for item in group for out in item.outputs]
        self._producer.deliver(outputs, self._policy, sleep=self._sleep, reroute=self._reroute)
        if self._outcomes is not None:
            self._outcomes.mark([a for item in group if (a := item.answered()) is not None])


__all__ = ["Finished", "Publisher"]
