"""After an alarm: the audit boost (set, expired, cleared) and calibration epochs in refits."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tracer_stream.contracts import Trace
from tracer_stream.registry import Registry
from tracer_stream.training import TraceTable, TrainerState
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.calibration import calibration_mask
from tracer_stream.training.publish import close_gate

from .memredis import MemRedis
from .synth import traffic
from .test_refit import make_world


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    return make_world(tmp_path)


def _alarm(world: dict[str, Any], audit_rate: float = 0.25) -> AlarmResponse:
    return AlarmResponse(world["registry"], world["state"], world["announcer"],
                         audit_rate=audit_rate, ttl_s=3600)


def _held_out_since(world: dict[str, Any], start: int) -> tuple[int, int]:
    """(held-out traces with seq >= start, held-out traces before it) in the store."""
    t = TraceTable.load(world["store"].root, "intents")
    held = calibration_mask(t.request_ids, t.audit, t.model_version, 0.3, t.reasons)
    return int((held & (t.seq >= start)).sum()), int((held & (t.seq < start)).sum())


def _gate_closed(traces: list[Trace]) -> list[Trace]:
    return [dataclasses.replace(t, model_version="v1", reason="gate_closed") for t in traces]


def test_boost_is_set_expires_and_is_cleared() -> None:
    registry = Registry(MemRedis())  # type: ignore[arg-type]
    assert registry.audit_boost("intents") is None
    registry.set_audit_boost("intents", 0.25, ttl_s=600, reason="drift:shadow_error")
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25
    assert registry.audit_boost("intents", now=boost["expires_at"] + 1) is None  # expired
    assert registry.history("intents")[0]["action"] == "audit_boost"
    assert registry.clear_audit_boost("intents", "v2 promoted")
    assert registry.audit_boost("intents") is None
    assert not registry.clear_audit_boost("intents", "again")  # nothing left to clear
    assert registry.history("intents")[0]["action"] == "audit_boost_cleared"


def test_alarm_starts_one_epoch_and_boosts_until_a_version_calibrated_in_it_serves(
        world: dict[str, Any]) -> None:
    world["store"].append(list(traffic(1200, seed=21, noise=0.01)))
    assert world["refitter"].refit("intents", "new_traces").outcome == "promoted"
    alarms = _alarm(world)
    assert alarms.alarm("intents", "drift:shadow_vs_surrogate", 1200, "fired")
    assert not alarms.alarm("intents", "monitor", 1250, "closed")  # same epoch
    state: TrainerState = world["state"]
    assert state.epoch("intents")["start"] == 1201 and state.epoch("intents")["pending"]
    assert world["registry"].audit_boost("intents")["rate"] == 0.25
    assert ("intents", "v1", "audit_boost") in world["announcer"].sent
    # audits of the stale model only: too few held-out traces in the epoch to test at all
    world["store"].append(list(traffic(300, seed=22, start=1200, audit_rate=0.25,
                                       model_version="v1")))
    out = world["refitter"].refit("intents", "drift:shadow_vs_surrogate")
    in_epoch, before = _held_out_since(world, 1201)
    assert out.outcome == "too_few_traces" and out.n_calibration == in_epoch < before
    assert state.gate_tests("intents") == 1  # skipped before the test: nothing spent
    # the gate closes: every request reaches the teacher, all of it may calibrate
    close_gate(world["registry"], world["announcer"], "intents", "live monitor")
    world["store"].append(_gate_closed(list(traffic(1200, seed=23, start=1500))))
    out = world["refitter"].refit("intents", "monitor")
    in_epoch, before = _held_out_since(world, 1201)
    assert out.outcome == "promoted" and out.version == "v2"
    assert out.n_calibration == in_epoch
    manifest = world["registry"].manifest("intents", "v2")
    assert manifest["n_cal"] == in_epoch
    assert manifest["n_traces"] == 2700 - before  # old held-out traces neither train nor calibrate
    assert manifest["trainer"]["calibration_epoch"]["start"] == 1201
    comparison = manifest["trainer"]["comparison"]
    assert comparison["reason"] == "the task's gate is closed"
    assert comparison["current"]["n"] == in_epoch  # compared on the epoch's rows
    assert world["registry"].gate("intents")["open"]
    assert not state.epoch("intents")["pending"]
    assert world["registry"].audit_boost("intents") is None
    # the next alarm starts a new epoch
    assert alarms.alarm("intents", "drift:shadow_error", 2700, "fired again")
    assert state.epoch("intents")["start"] == 2701


def test_a_candidate_kept_back_leaves_the_epoch_pending_and_the_boost_on(
        world: dict[str, Any]) -> None:
    world["store"].append(list(traffic(1200, seed=31, noise=0.01)))
    world["refitter"].refit("intents", "new_traces")
    _alarm(world).alarm("intents", "drift:shadow_error", 1200, "fired")
    # the same traffic again, served by v1: the candidate cannot beat v1 by much
    world["store"].append(list(traffic(2400, seed=32, start=1200, audit_rate=0.5,
                                       model_version="v1")))
    out = world["refitter"].refit("intents", "drift:shadow_error")
    if out.outcome == "kept_current":
        assert world["state"].epoch("intents")["pending"]
        assert world["registry"].audit_boost("intents") is not None
    else:  # promoted on coverage: then the epoch is over
        assert out.outcome == "promoted"
        assert not world["state"].epoch("intents")["pending"]
        assert world["registry"].audit_boost("intents") is None


def test_no_boost_when_disabled(world: dict[str, Any]) -> None:
    assert _alarm(world, audit_rate=0.0).alarm("intents", "monitor", 10, "closed")
    assert world["registry"].audit_boost("intents") is None
    assert not [a for a in world["announcer"].sent if a[2] == "audit_boost"]

