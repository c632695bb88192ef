"""The live guarantee monitor of each task's current version (``gate.md``, "Live monitor").

Every stored trace that is an audit of a request the current version's gate accepted
(``audit and gate_accepted and model_version == current``) is one draw
x = 1[surrogate_label ≠ label] of the handled disagreement; it updates a
:class:`~tracer_stream.learn.monitor.LiveMonitor` at the version's certified α and the task's δ.
When the monitor's wealth reaches 1/δ the guard closes the task's gate and announces
``close_gate``; the caller treats it as an alarm (:mod:`tracer_stream.training.alarms`: a new
calibration epoch, an audit boost, and a refit once the epoch has data). A version change (a
promotion, a rollback) starts a fresh monitor and the publisher reopens the gate.

The state — version, the store sequence number applied last, the monitor — is saved in Redis
after every batch, so a restart resumes it; traces stored after the saved sequence number are
replayed from the store (:func:`tracer_stream.training.table.read_after`), none counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracer_stream.learn.monitor import LiveMonitor
from tracer_stream.registry import Registry
from tracer_stream.training.publish import Announcer, close_gate
from tracer_stream.training.snapshot import StoredTrace
from tracer_stream.training.state import TrainerState

log = logging.getLogger(__name__)


@dataclass
class Watch:
    """The monitor of one task's version and how far it has read the store."""

    version: str
    monitor: LiveMonitor
    applied_seq: int = 0
    closed_gate: bool = False

    def to_json(self) -> bytes:
        return orjson.dumps({"version": self.version, "applied_seq": self.applied_seq,
                             "closed_gate": self.closed_gate,
                             "monitor": self.monitor.to_dict()})

    @classmethod
    def from_json(cls, raw: bytes) -> Watch:
        d = orjson.loads(raw)
        return cls(version=d["version"], monitor=LiveMonitor.from_dict(d["monitor"]),
                   applied_seq=int(d["applied_seq"]), closed_gate=bool(d["closed_gate"]))

    def summary(self) -> dict[str, Any]:
        """What metrics and ``tracer-stream model show`` report."""
        m = self.monitor
        lo, hi = m.confidence_interval if m.n else (0.0, 1.0)
        return {"version": self.version, "alpha": m.alpha, "delta": m.delta, "audited": m.n,
                "disagreements": m.disagreements, "agreement": m.agreement,
                "confidence_sequence": [lo, hi], "wealth": m.wealth,
                "alarm_at_wealth": 1.0 / m.delta, "alarm": m.alarm,
                "closed_gate": self.closed_gate}


@dataclass
class GuardResult:
    """What one batch did to a task's watch."""

    updates: int = 0
    alarm: bool = False
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


class LiveGuard:
    """Keeps one :class:`Watch` per task, for the version the registry says is current."""

    def __init__(self, registry: Registry, state: TrainerState, announcer: Announcer) -> None:
        self.registry = registry
        self.state = state
        self.announcer = announcer
        self._watches: dict[str, Watch] = {}

    def watch(self, task: str) -> Watch | None:
        """The task's watch for its current version (loaded, or fresh after a version change);
        None while the task has no current version."""
        current = self.registry.current(task)
        if current is None:
            return None
        cached = self._watches.get(task)
        if cached is None or cached.version != current:
            raw = self.state.load_monitor(task)
            saved = Watch.from_json(raw) if raw else None
            if saved is not None and saved.version == current:
                cached = saved
            else:
                cached = Watch(current, self._fresh_monitor(task, current),
                               applied_seq=saved.applied_seq if saved else 0)
            self._watches[task] = cached
        return cached

    def _fresh_monitor(self, task: str, version: str) -> LiveMonitor:
        manifest = self.registry.manifest(task, version)
        definition = self.registry.get_task(task)
        alpha = float(manifest.get("alpha") or (definition.alpha if definition else 0.95))
        delta = definition.delta if definition else 0.05
        return LiveMonitor(alpha=alpha, delta=delta)

    def observe(self, task: str, stored: Sequence[StoredTrace]) -> GuardResult:
        """Feed a task's newly stored traces (ascending ``seq``); close the gate on alarm."""
        watch = self.watch(task)
        if watch is None or not stored:
            return GuardResult()
        result = GuardResult()
        for s in stored:
            if s.seq <= watch.applied_seq:
                continue
            t = s.trace
            if (t.audit and t.gate_accepted and t.model_version == watch.version
                    and t.surrogate_label is not None):
                watch.monitor.update(disagree=t.surrogate_label != t.label)
                result.updates += 1
        watch.applied_seq = max(watch.applied_seq, stored[-1].seq)
        if watch.monitor.alarm and not watch.closed_gate:
            reason = (f"live monitor: audited agreement {watch.monitor.agreement:.3f} over "
                      f"{watch.monitor.n} handled requests refutes alpha={watch.monitor.alpha} "
                      f"(wealth {watch.monitor.wealth:.1f} >= {1 / watch.monitor.delta:.0f})")
            log.warning("task %s version %s: %s; closing the gate", task, watch.version, reason)
            close_gate(self.registry, self.announcer, task, reason)
            watch.closed_gate = True
            result.alarm, result.reason = True, reason
        self.state.save_monitor(task, watch.to_json())
        result.summary = watch.summary()
        return result
