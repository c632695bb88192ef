"""Refit triggers."""

from __future__ import annotations

import time

import pytest

from tracer_stream.registry import Registry
from tracer_stream.tasks import Task
from tracer_stream.training import TrainerState
from tracer_stream.training.schedule import RefitScheduler, calibration_needed, refit_trigger

from .memredis import MemRedis

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


def _scheduler() -> tuple[RefitScheduler, TrainerState, Registry]:
    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(Task(name="intents", labels=["a", "b"], alpha=0.95, delta=0.05))
    state = TrainerState(registry.client)
    return RefitScheduler(state, registry, min_new_traces=500, interval_s=3600.0,
                          drift_cooldown_s=300.0, started_at=0.0), state, registry


def test_scheduler_reads_counts_requests_and_last_refits() -> None:
    scheduler, state, _ = _scheduler()
    assert scheduler.due({"intents": 499}, now=1000.0) == []
    assert scheduler.due({"intents": 500}, now=1000.0) == [("intents", "new_traces")]
    state.record_refit("intents", 500, "promoted", "new_traces")
    state.request_refit("other", "manual")  # a task with no stored trace yet
    assert scheduler.due({"intents": 600}, now=time.time()) == [("other", "manual")]


def test_an_alarm_epoch_is_due_once_it_holds_enough_for_the_next_gate_test() -> None:
    scheduler, state, _ = _scheduler()
    state.record_refit("intents", 100, "promoted", "new_traces")
    state.start_epoch("intents", 101, "monitor", "live monitor alarm")
    needed = calibration_needed(0.95, 0.05, 1)
    state.count_epoch_calibration("intents", needed - 1)
    assert scheduler.epoch_ready("intents") is None
    state.count_epoch_calibration("intents", 1)
    assert scheduler.epoch_ready("intents") == "monitor"
    # the monitor closed the gate and no refit ran since: no cooldown
    assert scheduler.epoch_urgent("intents", last_refit_at=0.0)
    assert scheduler.due({"intents": 150}, now=time.time()) == [("intents", "monitor")]
    state.next_gate_test("intents")  # the next test spends less δ: it needs more traces
    assert scheduler.epoch_ready("intents") is None
