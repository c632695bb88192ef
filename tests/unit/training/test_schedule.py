"""Refit triggers."""

from __future__ import annotations

import pytest

from tracer_stream.training.schedule import refit_trigger

LIMITS = {"min_new_traces": 500, "interval_s": 3600.0, "drift_cooldown_s": 300.0}


@pytest.mark.parametrize(("requested", "epoch", "new", "since", "last", "expected"), [
    (None, None, 0, 10**6, "promoted", None),       # nothing new: never on a schedule
    (None, None, 499, 10.0, "promoted", None),
    (None, None, 500, 10.0, "promoted", "new_traces"),
    (None, None, 1, 3600.0, "promoted", "interval"),
    ("manual", None, 0, 0.0, "promoted", "manual"),  # an operator always gets a refit
    # an alarm's epoch with enough held-out traces refits once the cooldown is over
    (None, "monitor", 1, 300.0, "not_certified", "monitor"),
    (None, "monitor", 0, 300.0, "promoted", None),
    (None, "drift:accept_score", 10, 100.0, "kept_current", None),
    (None, "drift:accept_score", 10, 300.0, "too_few_traces", "drift:accept_score"),
    (None, "drift:accept_score", 600, 100.0, "promoted", "new_traces"),
    (None, None, 5000, 100.0, "failed", None),       # back off after an error
    (None, None, 5000, 300.0, "failed", "new_traces"),
    (None, None, 5000, 100.0, "no_task", None),
])
def test_refit_trigger(requested: str | None, epoch: str | None, new: int, since: float,
                       last: str, expected: str | None) -> None:
    assert refit_trigger(requested, new_traces=new, since_refit_s=since, last_outcome=last,
                         epoch_ready=epoch, **LIMITS) == expected
