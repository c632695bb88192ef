"""When to refit a task.

=====================  ==========================================================================
trigger                condition
=====================  ==========================================================================
``manual``             ``tracer-stream trainer refit TASK`` (always, even without new traces)
``monitor``            the live monitor closed the gate, and traces arrived since the last refit
``drift:<detector>``   a drift detector fired, traces arrived since, and the last refit is at
                       least ``drift_cooldown_s`` old
``new_traces``         at least ``refit_min_new_traces`` traces arrived since the last refit
``interval``           the last refit is ``refit_interval_s`` old and traces arrived since
=====================  ==========================================================================

After a refit that failed (an error, not a closed gate) or found no registered task, automatic
triggers wait ``drift_cooldown_s``.

>>> refit_trigger(None, new_traces=500, since_refit_s=10.0, last_outcome="promoted",
...               min_new_traces=500, interval_s=3600.0, drift_cooldown_s=300.0)
'new_traces'
>>> refit_trigger("drift:shadow_error", new_traces=20, since_refit_s=10.0, last_outcome="",
...               min_new_traces=500, interval_s=3600.0, drift_cooldown_s=300.0) is None
True
"""

from __future__ import annotations


def refit_trigger(requested: str | None, *, new_traces: int, since_refit_s: float,
                  last_outcome: str, min_new_traces: int, interval_s: float,
                  drift_cooldown_s: float) -> str | None:
    """The trigger to refit with now, or None."""
    if requested == "manual":
        return "manual"
    if new_traces <= 0 or (last_outcome in ("failed", "no_task")
                           and since_refit_s < drift_cooldown_s):
        return None
    if requested == "monitor":
        return "monitor"
    if requested is not None and since_refit_s >= drift_cooldown_s:
        return requested
    if new_traces >= min_new_traces:
        return "new_traces"
    if since_refit_s >= interval_s:
        return "interval"
    return None
