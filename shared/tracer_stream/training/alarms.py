"""What the trainer does when a drift detector or the live monitor raises an alarm for a task.

1. **Calibration epoch.** Unless an epoch is already pending (started by an earlier alarm and
   not yet served by a version calibrated in it), a new one starts at the next store sequence
   number: later refits calibrate only on held-out traces stored from there on
   (:func:`tracer_stream.training.calibration.calibration_rows`), and compare the candidate
   with the current version on those same rows. The refit trigger of a pending epoch waits
   until enough of them exist (:mod:`tracer_stream.training.schedule`).
2. **Audit boost.** The task's audit rate is raised to ``audit_rate`` in the registry for at most
   ``ttl_s`` seconds (routers draw with max(ρ, boost); a boost set by the live monitor's
   suspicion, :mod:`tracer_stream.training.live_guard`, is replaced even when higher: it lasts
   minutes and follows the evidence, the alarm's lasts until a refit), and an ``audit_boost``
   announcement tells the routers to re-read the registry now. More audits feed the live monitor
   of the current version and the new epoch's calibration set faster. The audit flag is still an
   independent draw made before the gate decides, with a probability that depends on time only, so
   audit traces stay a uniform sample of traffic. The refit that promotes a version calibrated in
   the epoch clears the boost (:class:`~tracer_stream.training.refit.Refitter`); otherwise it
   expires.

Alarms raised by routers (the novelty-rate watch, :mod:`tracer_stream.routing.novelty_watch`)
arrive through the registry (:meth:`~tracer_stream.registry.Registry.raise_alarm`); the trainer
polls them (:meth:`AlarmResponse.router_alarms`). One for the task's current version also
**closes the gate** (unless ``close_gate`` is off): every request goes to the teacher — safe for
the guarantee, at the price of LLM calls — and every trace is calibration-eligible (reason
``gate_closed``), so the epoch fills fast; the promotion of a version calibrated in it reopens
the gate. Then epoch and boost as above, a ``router_alarm`` event in the history, and the alarm
is cleared. An alarm for a version that no longer serves is discarded. Several routers may
raise the same alarm: the registry keeps one per version and detector, and handling it again is
idempotent (the gate is closed once, the pending epoch and the boost stay).

The alarms themselves stay operational triggers (``docs/gate.md``): a false alarm costs calibration
data and audits, never validity.
"""

from __future__ import annotations

import logging

from tracer_stream.registry import Registry
from tracer_stream.training.live_guard import is_suspicion_boost
from tracer_stream.training.publish import Announcer, close_gate
from tracer_stream.training.state import TrainerState

log = logging.getLogger(__name__)


class AlarmResponse:
    """Starts epochs and boosts audits on alarms (see the module docstring)."""

    def __init__(self, registry: Registry, state: TrainerState, announcer: Announcer, *,
                 audit_rate: float, ttl_s: float, close_gate_on_router_alarm: bool = True
                 ) -> None:
        self.registry = registry
        self.state = state
        self.announcer = announcer
        self.audit_rate = audit_rate
        self.ttl_s = ttl_s
        self.close_gate_on_router_alarm = close_gate_on_router_alarm

    def router_alarms(self, task: str, seq: int) -> int:
        """Act on the routers' pending alarms for ``task`` (``seq``: the last trace stored);
        returns how many were for the current version."""
        pending = self.registry.alarms(task)
        if not pending:
            return 0
        current = self.registry.current(task)
        acted = 0
        for a in pending:
            version, detector = str(a.get("version")), str(a.get("detector", "?"))
            source = str(a.get("source", "router"))
            if version != current:
                log.info("task %s: discarding the %s alarm of %s, which no longer serves "
                         "(current: %s)", task, detector, version, current)
                self.registry.clear_alarm(task, str(a["id"]))
                continue
            trigger = f"{source}:{detector}"
            reason = f"{trigger} on {version}: {a.get('detail', '')}"
            closed = False
            if self.close_gate_on_router_alarm and self.registry.gate(task)["open"]:
                log.warning("task %s: %s; closing the gate", task, reason)
                close_gate(self.registry, self.announcer, task, reason)
                closed = True
            self.registry.record_event(task, "router_alarm", reason=reason, version=version,
                                       source=source, detector=detector, closed_gate=closed,
                                       raised_at=a.get("at"), **{
                                           k: a[k] for k in ("scored", "novel", "bound")
                                           if k in a})
            self.alarm(task, trigger, seq, reason)
            self.registry.clear_alarm(task, str(a["id"]))
            acted += 1
        return acted

    def alarm(self, task: str, trigger: str, seq: int, reason: str) -> bool:
        """React to an alarm raised at store seq ``seq``; True when it started an epoch."""
        started = self.state.start_epoch(task, seq + 1, trigger, reason)
        if started:
            log.warning("task %s: calibration epoch starts at trace %d (%s)", task, seq + 1,
                        trigger)
            self.registry.record_event(task, "calibration_epoch", reason=reason,
                                       trigger=trigger, start=seq + 1)
        boost = self.registry.audit_boost(task)
        if self.audit_rate > 0 and (started or boost is None or is_suspicion_boost(boost)
                                    or float(boost["rate"]) < self.audit_rate):
            self.registry.set_audit_boost(task, self.audit_rate, ttl_s=self.ttl_s,
                                          reason=f"{trigger}: {reason}")
            self.announcer.announce(task, self.registry.current(task), "audit_boost",
                                    f"audit rate >= {self.audit_rate:g} after {trigger}")
        return started
