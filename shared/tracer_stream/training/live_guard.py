"""The live guarantee monitor of each task's current deployment (``docs/gate.md``, "Live monitor").

Every stored trace that is an audit of a request the current version's gate accepted
(``audit and gate_accepted and model_version == current``) is one draw
x = 1[surrogate_label ≠ label] of the handled disagreement; it updates a
:class:`~tracer_stream.learn.monitor.LiveMonitor` at the version's certified α. When the
monitor's wealth reaches 1/δₖ the guard closes the task's gate and announces ``close_gate``
(the reason quotes the agreement and the wealth *at the crossing*); the caller treats it as an
alarm (:mod:`tracer_stream.training.alarms`: a new calibration epoch, an audit boost, and a
refit once the epoch has data).

**One error budget per deployment history.** Every deployment — a promotion, a rollback, or
making the current version current again (:func:`~tracer_stream.training.publish.make_current`
bumps the task's deployment counter, :meth:`TrainerState.mark_deployment`) — starts a fresh
monitor, and the k-th monitor of a task (k counted in Redis over the task's life) tests at
δₖ = δ(1/√k − 1/√(k + 1)) (:func:`tracer_stream.learn.monitor.deployment_delta`). Each monitor
is a test supermartingale; with probability ≤ δₖ the k-th one ever alarms while its deployment
keeps its promise, so by the union bound the chance that *any* monitor of the task ever raises a
false alarm is ≤ Σₖ δₖ = δ, however many versions come and go. (The gate's certificates spend
their own δ over gate tests, with δ·6/(π²k²), :mod:`tracer_stream.training.calibration`.)

**Audit effort where it matters.** With ``suspicion_cap`` > 0, after every batch the guard
raises the task's audit rate to :func:`~tracer_stream.learn.monitor.suspicion_audit_rate` of
the monitor's evidence (the larger of its wealth and its CUSUM suspicion): ρ while the model
keeps its promise, ρ × evidence³ (a power of two) as evidence against it accumulates, up to the
cap (by default 1: every handled request is audited while the evidence is strong, which lasts
until the alarm or until agreements bring the evidence down). The boost is written to the
registry for :data:`SUSPICION_TTL_S` seconds, renewed while the suspicion lasts, lowered with
it, and announced (``audit_boost``) when it rises. A boost set by an alarm or an operator is
never lowered here: a higher suspicion boost may replace it for a while, and the watch keeps it
and puts it back (with its own expiry) when the suspicion falls below it. The rate depends on
past audits only, so audits stay a sample of traffic.

The state — version, deployment, k, the store sequence number applied last, the monitor — is
saved in Redis after every batch, so a restart resumes it; traces stored after the saved
sequence number are replayed from the store (:func:`tracer_stream.training.table.read_after`),
none counted twice. A saved state the code cannot read (an older format) starts a fresh
monitor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracer_stream.contracts.records import AuditBoostRecord
from tracer_stream.errors import LearnError
from tracer_stream.learn.monitor import (
    WINDOWS,
    LiveMonitor,
    deployment_delta,
    suspicion_audit_rate,
)
from tracer_stream.registry import Registry
from tracer_stream.training.publish import Announcer, close_gate
from tracer_stream.training.snapshot import StoredTrace
from tracer_stream.training.state import TrainerState

log = logging.getLogger(__name__)

SUSPICION_TTL_S = 900.0
"""Seconds a suspicion boost lasts unless a later batch renews it."""
_SUSPICION = "live monitor suspicion"


def is_suspicion_boost(boost: AuditBoostRecord | None) -> bool:
    """Whether ``boost`` was set by a live guard's suspicion (not by an alarm or an operator)."""
    return boost is not None and str(boost.get("reason", "")).startswith(_SUSPICION)


@dataclass
class Watch:
    """The monitor of one task's deployment and how far it has read the store."""

    version: str
    monitor: LiveMonitor
    applied_seq: int = 0
    closed_gate: bool = False
    deployment: int = 0
    """The task's deployment counter when this monitor started."""
    k: int = 1
    """Index of this monitor among the task's monitors (its share δₖ of the budget)."""
    underlying: AuditBoostRecord | None = None
    """An alarm's or an operator's boost a higher suspicion boost replaced, to put back."""

    def to_json(self) -> bytes:
        return orjson.dumps({"version": self.version, "applied_seq": self.applied_seq,
                             "closed_gate": self.closed_gate, "deployment": self.deployment,
                             "k": self.k, "underlying": self.underlying,
                             "monitor": self.monitor.to_dict()})

    @classmethod
    def from_json(cls, raw: bytes) -> Watch:
        """The saved watch (LearnError when its monitor has an older format)."""
        d = orjson.loads(raw)
        return cls(version=d["version"], monitor=LiveMonitor.from_dict(d["monitor"]),
                   applied_seq=int(d["applied_seq"]), closed_gate=bool(d["closed_gate"]),
                   deployment=int(d.get("deployment", 0)), k=int(d.get("k", 1)),
                   underlying=d.get("underlying"))

    def summary(self) -> dict[str, Any]:
        """What metrics and ``tracer-stream model show`` report. ``confidence_sequence`` is
        for the running mean of the agreement rate since the deployment (valid under change,
        :attr:`LiveMonitor.confidence_interval`)."""
        m = self.monitor
        lo, hi = m.confidence_interval
        return {"version": self.version, "alpha": m.alpha, "delta": m.delta, "k": self.k,
                "audited": m.n, "disagreements": m.disagreements, "agreement": m.agreement,
                "confidence_sequence": [lo, hi], "interval_of": "running mean",
                "wealth": m.wealth, "suspicion": m.suspicion, "alarm_at_wealth": 1.0 / m.delta,
                "alarm": m.alarm, "wealth_at_alarm": m.wealth_at_alarm,
                "closed_gate": self.closed_gate}


@dataclass
class GuardResult:
    """What one batch did to a task's watch."""

    updates: int = 0
    alarm: bool = False
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


class LiveGuard:
    """Keeps one :class:`Watch` per task, for the deployment the registry says is current.

    ``suspicion_cap``: the highest audit rate the suspicion boost sets (0: no boost).
    """

    def __init__(self, registry: Registry, state: TrainerState, announcer: Announcer, *,
                 suspicion_cap: float = 0.0) -> None:
        self.registry = registry
        self.state = state
        self.announcer = announcer
        self.suspicion_cap = suspicion_cap
        self._watches: dict[str, Watch] = {}

    def watch(self, task: str) -> Watch | None:
        """The task's watch for its current deployment (loaded, or fresh after a version
        change or a new deployment); None while the task has no current version."""
        current = self.registry.current(task)
        if current is None:
            return None
        deployment = self.state.deployment(task)
        cached = self._watches.get(task)
        if cached is None or (cached.version, cached.deployment) != (current, deployment):
            saved = self._saved(task)
            if saved is not None and (saved.version, saved.deployment) == (current, deployment):
                cached = saved
            else:
                cached = self._fresh(task, current, deployment,
                                     applied_seq=saved.applied_seq if saved else 0)
            self._watches[task] = cached
        return cached

    def _saved(self, task: str) -> Watch | None:
        raw = self.state.load_monitor(task)
        if not raw:
            return None
        try:
            return Watch.from_json(raw)
        except (LearnError, KeyError, ValueError) as exc:
            log.warning("task %s: cannot read the saved live monitor (%s); starting afresh",
                        task, exc)
            return None

    def _fresh(self, task: str, version: str, deployment: int, applied_seq: int) -> Watch:
        manifest = self.registry.manifest(task, version)
        definition = self.registry.get_task(task)
        alpha = float(manifest.get("alpha") or (definition.alpha if definition else 0.95))
        k = self.state.next_monitor(task)
        delta_k = deployment_delta(definition.delta if definition else 0.05, k)
        log.info("task %s: live monitor #%d for %s at alpha=%g, delta_k=%.3g", task, k,
                 version, alpha, delta_k)
        return Watch(version, LiveMonitor(alpha=alpha, delta=delta_k), applied_seq=applied_seq,
                     deployment=deployment, k=k)

    def observe(self, task: str, stored: Sequence[StoredTrace]) -> GuardResult:
        """Feed a task's newly stored traces (ascending ``seq``); close the gate on alarm."""
        watch = self.watch(task)
        if watch is None or not stored:
            return GuardResult()
        result = GuardResult()
        flags = [t.surrogate_label != t.label for s in stored if s.seq > watch.applied_seq
                 for t in (s.trace,)
                 if (t.audit and t.gate_accepted and t.model_version == watch.version
                     and t.surrogate_label is not None)]
        if not watch.monitor.alarm:  # the test stops at its alarm
            result.updates = watch.monitor.update_many(flags, stop_at_alarm=True)
        watch.applied_seq = max(watch.applied_seq, stored[-1].seq)
        m = watch.monitor
        if m.alarm and not watch.closed_gate:
            last = min(m.n, WINDOWS[0])
            reason = (f"live monitor #{watch.k}: {m.n} audited handled requests (agreement "
                      f"{m.agreement:.3f}, {m.recent_agreement(last):.3f} over the last {last}) "
                      f"refute alpha={m.alpha}: wealth {m.wealth_at_alarm:.1f} >= "
                      f"{1 / m.delta:.1f} at the crossing")
            log.warning("task %s version %s: %s; closing the gate", task, watch.version, reason)
            close_gate(self.registry, self.announcer, task, reason)
            watch.closed_gate = True
            result.alarm, result.reason = True, reason
        elif not m.alarm and self.suspicion_cap > 0:
            self._boost(task, watch)
        self.state.save_monitor(task, watch.to_json())
        result.summary = watch.summary()
        return result

    def _boost(self, task: str, watch: Watch) -> None:
        """Set the task's audit boost from the monitor's evidence (module docstring)."""
        definition = self.registry.get_task(task)
        base = definition.audit_rate if definition else 0.0
        m = watch.monitor
        evidence = max(m.wealth, m.suspicion)
        rate = suspicion_audit_rate(evidence, base, self.suspicion_cap)
        boost = self.registry.audit_boost(task)
        ours = is_suspicion_boost(boost)
        if boost is not None and not ours:
            if float(boost["rate"]) >= rate:
                return  # an alarm's or an operator's boost: never lowered here
            watch.underlying = boost
        now = time.time()
        under = watch.underlying
        if under is not None and float(under["expires_at"]) <= now:
            watch.underlying = under = None
        if under is not None and rate <= float(under["rate"]):
            self.registry.set_audit_boost(task, float(under["rate"]),
                                          ttl_s=float(under["expires_at"]) - now,
                                          reason=str(under["reason"]))
            watch.underlying = None
            return
        if rate <= base:
            if ours:
                self.registry.clear_audit_boost(task, f"{_SUSPICION} over ({evidence:.2g})")
            return
        renew = (boost is None or not ours or float(boost["rate"]) != rate
                 or float(boost["expires_at"]) - now < SUSPICION_TTL_S / 2)
        if not renew:
            return
        self.registry.set_audit_boost(task, rate, ttl_s=SUSPICION_TTL_S, reason=(
            f"{_SUSPICION}: evidence {evidence:.2g} against alpha={m.alpha} on "
            f"{watch.version}"))
        if boost is None or float(boost["rate"]) < rate:
            self.announcer.announce(task, watch.version, "audit_boost",
                                    f"audit rate >= {rate:g} ({_SUSPICION})")
