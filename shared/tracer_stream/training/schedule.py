"""When to refit a task.

=====================  ==========================================================================
trigger                condition
=====================  ==========================================================================
``manual``             ``tracer-stream trainer refit TASK`` (always, even without new traces)
``monitor`` or         an alarm (the live monitor closed the gate, or a drift detector fired)
``drift:<detector>``   started a calibration epoch that no version calibrated in it serves yet;
or ``router:<det.>``   the epoch holds at least n_min(α, δₖ₊₁) held-out traces (enough for the
                       next gate test to be possible at all); traces arrived since the last
                       refit; and the last refit is at least ``drift_cooldown_s`` old — except
                       for the first refit of an epoch whose alarm closed the gate
                       (``monitor``, ``router:*``: ``epoch_urgent``), which runs at once
``new_traces``         at least ``refit_min_new_traces`` traces arrived since the last refit
``interval``           the last refit is ``refit_interval_s`` old and traces arrived since
=====================  ==========================================================================

The epoch trigger stands until a version calibrated in the epoch is promoted, so a refit that
finds too few traces, is not certified or is kept back is retried — no sooner than
``drift_cooldown_s`` after it, which bounds refit storms (each gate test spends δₖ); only the
first refit of an epoch that closed the gate skips the cooldown (while the gate is closed every
request costs an LLM call), so an alarm adds at most one refit outside it. After a
refit that failed (an error, not a closed gate) or found no registered task, automatic
triggers wait ``drift_cooldown_s``.

>>> refit_trigger(None, new_traces=500, since_refit_s=10.0, last_outcome="promoted",
...               min_new_traces=500, interval_s=3600.0, drift_cooldown_s=300.0)
'new_traces'
>>> refit_trigger(None, epoch_ready="drift:shadow_error", new_traces=20, since_refit_s=10.0,
...               last_outcome="", min_new_traces=500, interval_s=3600.0,
...               drift_cooldown_s=300.0) is None
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tracer_stream.learn import n_min, spend_delta
from tracer_stream.registry import Registry
from tracer_stream.training.state import TrainerState


def calibration_needed(alpha: float, delta: float, k: int) -> int:
    """Calibration traces without which the task's k-th gate test cannot pass: n_min at the
    δₖ that δ-spending (:func:`tracer_stream.learn.spend_delta`) gives the k-th test.

    >>> calibration_needed(0.95, 0.05, 1), calibration_needed(0.95, 0.05, 10)
    (69, 158)
    """
    return n_min(alpha, spend_delta(delta, k))


def refit_trigger(requested: str | None, *, new_traces: int, since_refit_s: float,
                  last_outcome: str, min_new_traces: int, interval_s: float,
                  drift_cooldown_s: float, epoch_ready: str | None = None,
                  epoch_urgent: bool = False) -> str | None:
    """The trigger to refit with now, or None. ``requested`` is an operator's request
    ("manual"); ``epoch_ready`` the trigger of a pending calibration epoch that holds enough
    held-out traces for a gate test; ``epoch_urgent`` that the epoch's alarm closed the gate
    and no refit ran since it started (no cooldown)."""
    if requested == "manual":
        return "manual"
    if new_traces <= 0 or (last_outcome in ("failed", "no_task")
                           and since_refit_s < drift_cooldown_s):
        return None
    if epoch_ready is not None and (epoch_urgent or since_refit_s >= drift_cooldown_s):
        return epoch_ready
    if new_traces >= min_new_traces:
        return "new_traces"
    if since_refit_s >= interval_s:
        return "interval"
    return None


@dataclass
class RefitScheduler:
    """Evaluates :func:`refit_trigger` for every task from the trainer state in Redis."""

    state: TrainerState
    registry: Registry
    min_new_traces: int
    interval_s: float
    drift_cooldown_s: float
    started_at: float = field(default_factory=time.time)

    def due(self, counts: dict[str, int], now: float) -> list[tuple[str, str]]:
        """(task, trigger) of every task to refit now; ``counts``: traces stored per task."""
        requests = self.state.refit_requests()
        due = []
        for task in sorted(set(counts) | set(requests)):
            last = self.state.last_refit(task)
            trigger = refit_trigger(
                requests.get(task), new_traces=counts.get(task, 0) - last["seq"],
                since_refit_s=now - max(last["at"], self.started_at),
                last_outcome=last["outcome"], min_new_traces=self.min_new_traces,
                interval_s=self.interval_s, drift_cooldown_s=self.drift_cooldown_s,
                epoch_ready=self.epoch_ready(task),
                epoch_urgent=self.epoch_urgent(task, last["at"]))
            if trigger is not None:
                due.append((task, trigger))
        return due

    def epoch_urgent(self, task: str, last_refit_at: float) -> bool:
        """True while the pending epoch was started by an alarm that closes the gate (the live
        monitor, a router) and no refit ran since: its first refit skips the cooldown."""
        epoch = self.state.epoch(task)
        trigger = str(epoch["trigger"])
        return bool(epoch["pending"]) and last_refit_at < float(epoch["at"]) and (
            trigger == "monitor" or trigger.startswith("router:"))

    def epoch_ready(self, task: str) -> str | None:
        """The alarm trigger of the task's pending calibration epoch once it holds enough
        held-out traces for the next gate test, else None."""
        epoch = self.state.epoch(task)
        if not epoch["pending"]:
            return None
        definition = self.registry.get_task(task)
        if definition is None:
            return None
        needed = calibration_needed(definition.alpha, definition.delta,
                                    self.state.gate_tests(task) + 1)
        return str(epoch["trigger"]) if epoch["n_cal"] >= needed else None
