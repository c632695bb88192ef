"""One consumed batch of trace messages: decode, store durably, then watch.

Order matters for at-least-once: the snapshot's covered offsets move, and the consumer
acknowledges the batch, only after :meth:`Ingest.process` stored and watched it. The live guard
and the drift watches see only traces the snapshot accepted as new, so a redelivered trace is
counted once.
Their alarms go to :class:`~tracer_stream.training.alarms.AlarmResponse` (calibration epoch,
audit boost); the held-out traces stored in a task's epoch are counted for the refit trigger.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer_stream.config import TrainerSettings
from tracer_stream.contracts import DeadLetter, Trace, decode
from tracer_stream.contracts.dead_letters import Source, dead_letter
from tracer_stream.errors import ContractError
from tracer_stream.registry import Registry
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.calibration import calibration_mask
from tracer_stream.training.drift import DriftWatch
from tracer_stream.training.live_guard import LiveGuard
from tracer_stream.training.publish import Announcer
from tracer_stream.training.snapshot import StoredTrace, TraceSnapshot
from tracer_stream.training.state import TrainerState
from tracer_stream.training.table import read_after

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What a batch did, for metrics."""

    received: int = 0
    stored: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    """One per rejected message, for the dead-letter topic."""
    gate_closed: list[str] = field(default_factory=list)
    drift: list[tuple[str, str]] = field(default_factory=list)
    watches: dict[str, dict[str, Any]] = field(default_factory=dict)
    shadow_agreement: dict[str, float] = field(default_factory=dict)


class Ingest:
    """Trace store + live guard + drift watches of every task.

    Parameters
    ----------
    drift_cooldown_s
        A detector's alarm is written to the registry history at most once per this interval
        per task (every alarm is logged and counted).
    calibration_fraction
        The calibration partition's share (to count the held-out traces of an epoch).
    """

    def __init__(self, store: TraceSnapshot, guard: LiveGuard, registry: Registry,
                 state: TrainerState, alarms: AlarmResponse, *, max_bytes: int,
                 drift_cooldown_s: float, calibration_fraction: float) -> None:
        self.store = store
        self.guard = guard
        self.registry = registry
        self.state = state
        self.alarms = alarms
        self.max_bytes = max_bytes
        self.drift_cooldown_s = drift_cooldown_s
        self.calibration_fraction = calibration_fraction
        self.drift: dict[str, DriftWatch] = {}
        self._recorded: dict[tuple[str, str], float] = {}

    @classmethod
    def from_settings(cls, settings: TrainerSettings, store: TraceSnapshot, registry: Registry,
                      state: TrainerState, announcer: Announcer) -> Ingest:
        """The trainer's ingest: its live guard and alarm response wired to the settings."""
        alarms = AlarmResponse(registry, state, announcer, audit_rate=settings.drift_audit_rate,
                               ttl_s=settings.drift_audit_ttl_s,
                               close_gate_on_router_alarm=settings.router_alarm_close_gate)
        guard = LiveGuard(registry, state, announcer,
                          suspicion_cap=settings.suspicion_audit_cap)
        return cls(store, guard, registry, state, alarms,
                   max_bytes=settings.limits.max_message_bytes,
                   drift_cooldown_s=settings.drift_cooldown_s,
                   calibration_fraction=settings.calibration_fraction)

    def process(self, raws: Sequence[bytes], sources: Sequence[Source] | None = None
                ) -> IngestReport:
        """Decode, store (durable on return) and watch one batch; a message that breaks the
        Trace contract becomes a dead letter in the report (``sources``: where each came
        from)."""
        report = IngestReport(received=len(raws))
        where = list(sources) if sources is not None else [Source()] * len(raws)
        traces: list[Trace] = []
        trace_sources: list[Source] = []
        for raw, source in zip(raws, where, strict=True):
            try:
                traces.append(decode(Trace, raw, max_bytes=self.max_bytes))
                trace_sources.append(source)
            except ContractError as exc:
                report.rejected[exc.reason] += 1
                log.warning("rejected trace message: %s", exc)
                report.dead_letters.append(dead_letter(
                    "trainer", exc.reason, exc.message, raw=raw, field=exc.field,
                    source=source))
        by_task: dict[str, list[StoredTrace]] = defaultdict(list)
        stored = self.store.append(traces, trace_sources)
        report.duplicates = len(traces) - len(stored)
        for s in stored:
            by_task[s.trace.task].append(s)
        for task, stored in by_task.items():
            report.stored[task] = len(stored)
            self._count_epoch(task, stored)
            self._watch(task, stored, report)
        return report

    def cover(self, sources: Sequence[Source]) -> None:
        """The batch read from ``sources`` is handled (its dead letters delivered too): move
        the snapshot's covered offsets past it."""
        self.store.cover(sources)

    def _count_epoch(self, task: str, stored: list[StoredTrace]) -> None:
        """Count the batch's held-out traces that belong to the task's calibration epoch."""
        start = self.state.epoch(task)["start"]
        fresh = [s.trace for s in stored if s.seq >= start]
        if start <= 1 or not fresh:
            return
        held_out = calibration_mask([t.request_id for t in fresh],
                                    np.array([t.audit for t in fresh], dtype=bool),
                                    [t.model_version for t in fresh],
                                    self.calibration_fraction, [t.reason for t in fresh])
        self.state.count_epoch_calibration(task, int(held_out.sum()))

    def recover(self, warm_traces: int = 1000) -> IngestReport:
        """After a restart: replay to the live guard what it had not applied yet, and warm the
        drift watches on the last ``warm_traces`` traces (their alarms are not acted on)."""
        report = IngestReport()
        for task in self.store.tasks():
            count = self.store.count(task)
            watch = self.guard.watch(task)
            guard_from = watch.applied_seq if watch is not None else count
            warm_from = max(0, count - warm_traces)
            replay = read_after(self.store.root, task, min(guard_from, warm_from))
            self._warm(task, [s for s in replay if s.seq <= guard_from])
            pending = [s for s in replay if s.seq > guard_from]
            if pending:
                log.info("task %s: replaying %d stored traces to the live monitor", task,
                         len(pending))
                self._watch(task, pending, report)
            elif watch is not None:
                report.watches[task] = watch.summary()
        return report

    def _warm(self, task: str, stored: list[StoredTrace]) -> None:
        watch = self.guard.watch(task)
        drift = self.drift.setdefault(task, DriftWatch())
        for s in stored:
            drift.update(s.trace, watch.version if watch else None)

    def _watch(self, task: str, stored: list[StoredTrace], report: IngestReport) -> None:
        watch = self.guard.watch(task)
        if watch is not None and 0 < watch.applied_seq < stored[0].seq - 1:
            # an earlier batch was stored but failed before the guard saw it (a Redis error)
            stored = read_after(self.store.root, task, watch.applied_seq)
        result = self.guard.observe(task, stored)
        if result.alarm:
            report.gate_closed.append(task)
            self.alarms.alarm(task, "monitor", stored[-1].seq, result.reason)
        if result.summary:
            report.watches[task] = result.summary
        version = result.summary.get("version")  # None while the task has no current version
        drift = self.drift.setdefault(task, DriftWatch())
        fired: list[str] = []
        for s in stored:
            fired.extend(drift.update(s.trace, version))
        if drift.shadow_agreement is not None:
            report.shadow_agreement[task] = drift.shadow_agreement
        for detector in dict.fromkeys(fired):
            report.drift.append((task, detector))
            self._alarm(task, detector, version, stored[-1].seq)

    def _alarm(self, task: str, detector: str, version: str | None, seq: int) -> None:
        reason = f"drift detector {detector} fired at trace {seq}"
        log.warning("task %s (version %s): %s", task, version, reason)
        self.alarms.alarm(task, f"drift:{detector}", seq, reason)
        now = time.time()
        if now - self._recorded.get((task, detector), 0.0) >= self.drift_cooldown_s:
            self._recorded[(task, detector)] = now
            self.registry.record_event(task, "drift", reason=reason, detector=detector,
                                       version=version, seq=seq)
