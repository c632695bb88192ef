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
