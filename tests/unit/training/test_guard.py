"""The live guarantee monitor: alarm → gate closed, persistence, version changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracer_stream.contracts import Trace, encode
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task
from tracer_stream.training import (
    LiveGuard,
    StoredTrace,
    TraceSnapshot,
    TrainerState,
    make_current,
)
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.ingest import Ingest

from .memredis import MemRedis
from .test_refit import RecordingAnnouncer


@pytest.fixture
def registry() -> Registry:
    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(Task(name="intents", labels=("a", "b"), alpha=0.95, delta=0.05))
    for _ in range(2):
        registry.add_version("intents", b"blob", {"alpha": 0.95, "certified": True})
    registry.set_current("intents", "v1")
    return registry


def audited(seqs: range, disagree_rate: float, *, version: str = "v1", seed: int = 0,
            **overrides: bool) -> list[StoredTrace]:
    rng = np.random.default_rng(seed)
    out = []
    for seq in seqs:
        fields = {"audit": True, "gate_accepted": True} | overrides
        wrong = bool(rng.random() < disagree_rate)
        out.append(StoredTrace(seq, Trace(
            request_id=f"r{seq}", task="intents", text="t", label="a",
            surrogate_label="b" if wrong else "a", model_version=version,
            accept_score=0.9, **fields)))
    return out


def guard_for(registry: Registry) -> tuple[LiveGuard, RecordingAnnouncer, TrainerState]:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    return LiveGuard(registry, state, announcer), announcer, state  # type: ignore[arg-type]


def test_a_bad_model_is_shut_off(registry: Registry) -> None:
    guard, announcer, state = guard_for(registry)
    shut_at = None
    for seq in range(1, 1001):
        if guard.observe("intents", audited(range(seq, seq + 1), 0.25, seed=seq)).alarm:
            shut_at = seq
            break
    assert shut_at is not None and shut_at < 200
    assert not registry.gate("intents")["open"]
    assert announcer.sent == [("intents", "v1", "close_gate")]
    assert state.refit_requests() == {}  # the refit waits for the alarm's calibration epoch
    assert registry.history("intents")[0]["action"] == "close_gate"


def test_a_model_that_keeps_its_promise_is_left_alone(registry: Registry) -> None:
    guard, announcer, _ = guard_for(registry)
    result = guard.observe("intents", audited(range(1, 3001), 0.03))
    assert result.updates == 3000 and not result.alarm and registry.gate("intents")["open"]
    lo, hi = result.summary["confidence_sequence"]
    assert lo < 0.97 < hi and announcer.sent == []


def test_only_audited_accepted_requests_of_the_current_version_count(registry: Registry
                                                                     ) -> None:
    guard, _, _ = guard_for(registry)
    batch = (audited(range(1, 11), 1.0, gate_accepted=False)
             + audited(range(11, 21), 1.0, audit=False)
             + audited(range(21, 31), 1.0, version="v2")
             + audited(range(31, 36), 0.0))
    assert guard.observe("intents", batch).updates == 5


def test_state_survives_a_restart_without_double_counting(registry: Registry) -> None:
    guard, _, _ = guard_for(registry)
    guard.observe("intents", audited(range(1, 101), 0.05))
    restarted, _, _ = guard_for(registry)
    watch = restarted.watch("intents")
    assert watch is not None and watch.monitor.n == 100 and watch.applied_seq == 100
    assert restarted.observe("intents", audited(range(51, 151), 0.05)).updates == 50
    assert watch.monitor.n == 150


def test_a_new_version_is_monitored_afresh_and_reopens_the_gate(registry: Registry) -> None:
    guard, announcer, _ = guard_for(registry)
    guard.observe("intents", audited(range(1, 400), 0.5))
    assert not registry.gate("intents")["open"]
    make_current(registry, announcer, "intents", "v2", action="promote",  # type: ignore[arg-type]
                 reason="refit")
    assert registry.gate("intents")["open"]
    assert announcer.sent[-2:] == [("intents", "v2", "promote"), ("intents", "v2", "open_gate")]
    result = guard.observe("intents", audited(range(400, 420), 0.0, version="v2"))
    assert result.summary["version"] == "v2" and result.summary["audited"] == 20
    assert not result.summary["alarm"]


def test_traces_stored_by_a_batch_that_failed_later_still_reach_the_monitor(
        registry: Registry, tmp_path: Path) -> None:
    guard, _, state = guard_for(registry)
    alarms = AlarmResponse(registry, state, guard.announcer, audit_rate=0.25, ttl_s=60)
    ingest = Ingest(TraceSnapshot(tmp_path), guard, registry, state, alarms, max_bytes=1 << 20,
                    drift_cooldown_s=0, calibration_fraction=0.3)
    first, lost, last = (audited(range(a, b), 0.0) for a, b in ((1, 11), (11, 21), (21, 31)))
    ingest.process([encode(s.trace) for s in first])
    ingest.store.append([s.trace for s in lost])  # stored, then the batch died on Redis
    report = ingest.process([encode(s.trace) for s in last])
    assert report.watches["intents"]["audited"] == 30


def test_a_monitor_alarm_starts_an_epoch_and_boosts_audits(registry: Registry,
                                                          tmp_path: Path) -> None:
    guard, announcer, state = guard_for(registry)
    alarms = AlarmResponse(registry, state, announcer, audit_rate=0.25,  # type: ignore[arg-type]
                           ttl_s=600)
    ingest = Ingest(TraceSnapshot(tmp_path), guard, registry, state, alarms, max_bytes=1 << 20,
                    drift_cooldown_s=0, calibration_fraction=0.3)
    closed_at = None
    for seq in range(1, 1001, 10):
        report = ingest.process([encode(s.trace) for s in audited(range(seq, seq + 10), 0.5,
                                                                  seed=seq)])
        if report.gate_closed:
            closed_at = seq + 9
            break
    assert closed_at is not None
    epoch = state.epoch("intents")
    assert epoch["pending"] and epoch["start"] == closed_at + 1 and epoch["trigger"] == "monitor"
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25
    assert [a for _, _, a in announcer.sent] == ["close_gate", "audit_boost"]
    # traces deferred while the gate is closed are held out and counted for the epoch's refit
    closed = [Trace(request_id=f"c{i}", task="intents", text="t", label="a", audit=False,
                    gate_accepted=False, model_version="v1", reason="gate_closed")
              for i in range(200)]
    ingest.process([encode(t) for t in closed])
    assert 30 < state.epoch("intents")["n_cal"] < 90   # ~30% of 200 are in the partition
    # a second alarm during a pending epoch keeps its start
    assert not alarms.alarm("intents", "drift:shadow_error", 5000, "again")
    assert state.epoch("intents")["start"] == closed_at + 1


def test_re_promoting_the_current_version_starts_a_fresh_monitor_with_its_share(
        registry: Registry) -> None:
    guard, announcer, state = guard_for(registry)
    first = guard.observe("intents", audited(range(1, 400), 0.5))
    assert first.alarm and first.summary["k"] == 1 and not registry.gate("intents")["open"]
    make_current(registry, announcer, "intents", "v1", action="promote",  # type: ignore[arg-type]
                 reason="operator re-promotes v1")
    assert registry.gate("intents")["open"]
    again = guard.observe("intents", audited(range(400, 800), 0.5, seed=1))
    assert again.alarm and not registry.gate("intents")["open"]    # it can close the gate again
    assert again.summary["k"] == 2 and again.summary["delta"] == pytest.approx(
        0.05 * (1 / np.sqrt(2) - 1 / np.sqrt(3)))
    assert state.deployment("intents") == 1


def test_the_closing_reason_quotes_the_wealth_at_the_crossing(registry: Registry) -> None:
    guard, _, _ = guard_for(registry)
    result = guard.observe("intents", audited(range(1, 2001), 0.5))
    monitor = guard.watch("intents").monitor  # type: ignore[union-attr]
    assert result.alarm and monitor.n == result.updates < 2000   # the test stopped there
    level = 1 / monitor.delta
    assert level <= monitor.wealth_at_alarm < 4 * level
    assert f"wealth {monitor.wealth_at_alarm:.1f} >= {level:.1f} at the crossing" in result.reason


def test_an_unreadable_saved_monitor_starts_afresh(registry: Registry) -> None:
    guard, _, state = guard_for(registry)
    state.save_monitor("intents", b'{"version": "v1", "applied_seq": 5, "closed_gate": false, '
                                  b'"monitor": {"alpha": 0.95}}')
    watch = guard.watch("intents")
    assert watch is not None and watch.monitor.n == 0 and not watch.closed_gate


def test_suspicion_raises_the_audit_rate_and_lets_it_fall(registry: Registry) -> None:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer, suspicion_cap=0.25)  # type: ignore[arg-type]
    assert guard.observe("intents", audited(range(1, 200), 0.0)).summary["suspicion"] == 1.0
    assert registry.audit_boost("intents") is None            # a fine model: no extra audits
    guard.observe("intents", audited(range(200, 204), 1.0))    # four disagreements in a row
    boost = registry.audit_boost("intents")
    assert boost is not None and 0.02 < boost["rate"] <= 0.25
    assert announcer.sent[-1] == ("intents", "v1", "audit_boost")
    guard.observe("intents", audited(range(204, 800), 0.0))    # good news: the boost ends
    assert registry.audit_boost("intents") is None and registry.gate("intents")["open"]


def test_suspicion_never_lowers_an_alarm_boost(registry: Registry) -> None:
    state = TrainerState(registry.client)
    guard = LiveGuard(registry, state, RecordingAnnouncer(),  # type: ignore[arg-type]
                      suspicion_cap=0.25)
    registry.set_audit_boost("intents", 0.25, ttl_s=600, reason="drift:shadow_error: x")
    guard.observe("intents", audited(range(1, 100), 0.0))
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25 and boost["reason"].startswith("drift")


def test_an_alarm_replaces_a_lower_suspicion_boost(registry: Registry) -> None:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer, suspicion_cap=0.25)  # type: ignore[arg-type]
    alarms = AlarmResponse(registry, state, announcer, audit_rate=0.25,  # type: ignore[arg-type]
                           ttl_s=600)
    guard.observe("intents", audited(range(1, 2), 1.0))
    low = registry.audit_boost("intents")
    assert low is not None and low["rate"] < 0.25
    state.start_epoch("intents", 1, "drift:x", "an earlier alarm")  # an epoch is pending
    assert not alarms.alarm("intents", "drift:shadow_error", 1, "shift")
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25


def test_strong_suspicion_audits_every_handled_request_until_the_evidence_falls(
        registry: Registry) -> None:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer, suspicion_cap=1.0)  # type: ignore[arg-type]
    guard.observe("intents", audited(range(1, 200), 0.0))
    guard.observe("intents", audited(range(200, 201), 1.0))    # one disagreement: ρ·2³
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == pytest.approx(8 * 0.02)
    guard.observe("intents", audited(range(201, 204), 1.0))    # a run of them: everything
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 1.0 and registry.gate("intents")["open"]
    guard.observe("intents", audited(range(204, 900), 0.0))    # good news: back to ρ
    assert registry.audit_boost("intents") is None


def test_a_higher_suspicion_boost_puts_an_alarm_boost_back(registry: Registry) -> None:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer, suspicion_cap=1.0)  # type: ignore[arg-type]
    registry.set_audit_boost("intents", 0.25, ttl_s=3600, reason="drift:shadow_error: x")
    expires = registry.audit_boost("intents")["expires_at"]  # type: ignore[index]
    guard.observe("intents", audited(range(1, 5), 1.0))
    assert registry.audit_boost("intents")["rate"] == 1.0  # type: ignore[index]
    # the replaced boost is saved with the watch, so a restarted guard still puts it back
    restarted = LiveGuard(registry, state, announcer,  # type: ignore[arg-type]
                          suspicion_cap=1.0)
    restarted.observe("intents", audited(range(5, 900), 0.0))
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25 and boost["reason"].startswith("drift")
    assert boost["expires_at"] == pytest.approx(expires, abs=5)


def test_an_alarm_replaces_a_higher_suspicion_boost(registry: Registry) -> None:
    state = TrainerState(registry.client)
    announcer = RecordingAnnouncer()
    guard = LiveGuard(registry, state, announcer, suspicion_cap=1.0)  # type: ignore[arg-type]
    alarms = AlarmResponse(registry, state, announcer, audit_rate=0.25,  # type: ignore[arg-type]
                           ttl_s=600)
    guard.observe("intents", audited(range(1, 5), 1.0))
    state.start_epoch("intents", 1, "drift:x", "an earlier alarm")  # an epoch is pending
    alarms.alarm("intents", "drift:shadow_error", 4, "shift")
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25 and boost["expires_at"] > (
        boost["since"] + 500)
