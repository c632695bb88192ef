"""Alarms raised by routers (the novelty-rate watch): the registry keeps one per version and
detector; the trainer closes the gate, starts the epoch and the boost and clears the alarm for
the current version, and discards a stale version's alarm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracer_stream.registry import Registry
from tracer_stream.training.alarms import AlarmResponse
from tracer_stream.training.schedule import refit_trigger

from .test_refit import make_world


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    w = make_world(tmp_path)
    registry: Registry = w["registry"]
    for _ in range(2):
        registry.add_version("intents", b"blob", {"certified": True})
    registry.set_current("intents", "v2")
    return w


def _response(world: dict[str, Any], close: bool = True) -> AlarmResponse:
    return AlarmResponse(world["registry"], world["state"], world["announcer"],
                         audit_rate=0.25, ttl_s=3600, close_gate_on_router_alarm=close)


def _raise(registry: Registry, version: str) -> bool:
    return registry.raise_alarm("intents", version, source="router", detector="novel_rate",
                                detail="60 of 400 novel", scored=400, novel=60, bound=0.03)


def test_an_alarm_on_the_current_version_closes_the_gate_and_starts_epoch_and_boost(
        world: dict[str, Any]) -> None:
    registry: Registry = world["registry"]
    assert _raise(registry, "v2")
    assert not _raise(registry, "v2")  # a second router: the pending alarm stays one
    assert len(registry.alarms("intents")) == 1

    assert _response(world).router_alarms("intents", seq=1200) == 1
    assert not registry.gate("intents")["open"]
    assert registry.gate("intents")["reason"].startswith("router:novel_rate on v2")
    epoch = world["state"].epoch("intents")
    assert epoch["pending"] and epoch["start"] == 1201 and epoch["trigger"] == "router:novel_rate"
    boost = registry.audit_boost("intents")
    assert boost is not None and boost["rate"] == 0.25
    assert [a for _t, _v, a in world["announcer"].sent] == ["close_gate", "audit_boost"]
    assert registry.alarms("intents") == []  # cleared
    event = next(e for e in registry.history("intents") if e["action"] == "router_alarm")
    assert event["version"] == "v2" and event["closed_gate"] and event["scored"] == 400


def test_a_duplicate_raised_after_handling_is_idempotent(world: dict[str, Any]) -> None:
    registry: Registry = world["registry"]
    response = _response(world)
    _raise(registry, "v2")
    response.router_alarms("intents", seq=1200)
    _raise(registry, "v2")  # a slower router raises it again
    assert response.router_alarms("intents", seq=1300) == 1
    assert [a for _t, _v, a in world["announcer"].sent] == ["close_gate", "audit_boost"]
    assert world["state"].epoch("intents")["start"] == 1201  # the pending epoch stays
    assert registry.alarms("intents") == []


def test_a_stale_versions_alarm_is_discarded(world: dict[str, Any]) -> None:
    registry: Registry = world["registry"]
    _raise(registry, "v1")
    assert _response(world).router_alarms("intents", seq=1200) == 0
    assert registry.gate("intents")["open"]
    assert not world["state"].epoch("intents")["pending"]
    assert registry.audit_boost("intents") is None and world["announcer"].sent == []
    assert registry.alarms("intents") == []


def test_gate_closing_can_be_switched_off(world: dict[str, Any]) -> None:
    registry: Registry = world["registry"]
    _raise(registry, "v2")
    assert _response(world, close=False).router_alarms("intents", seq=10) == 1
    assert registry.gate("intents")["open"]
    assert world["state"].epoch("intents")["pending"]
    assert [a for _t, _v, a in world["announcer"].sent] == ["audit_boost"]


def test_the_first_refit_of_a_gate_closing_epoch_skips_the_cooldown() -> None:
    common: dict[str, Any] = dict(new_traces=100, since_refit_s=2.0, last_outcome="promoted",
                                  min_new_traces=500, interval_s=3600.0, drift_cooldown_s=300.0,
                                  epoch_ready="router:novel_rate")
    assert refit_trigger(None, **common) is None
    assert refit_trigger(None, **common, epoch_urgent=True) == "router:novel_rate"
    # a failed refit still waits
    assert refit_trigger(None, **{**common, "last_outcome": "failed"}, epoch_urgent=True) is None
