"""The Redis registry against a real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from tracer_stream.errors import RegistryError
from tracer_stream.registry import Registry
from tracer_stream.tasks import Task


@pytest.fixture
def registry(redis_client: redis.Redis) -> Registry:
    return Registry(redis_client, prefix=f"test-{uuid.uuid4().hex[:6]}:")


def test_tasks_round_trip(registry: Registry) -> None:
    task = Task(name="intents", labels=["a", "b"], alpha=0.9)  # type: ignore[arg-type]
    registry.put_task(task)
    assert registry.get_task("intents") == task
    assert registry.get_task("other") is None
    assert [t.name for t in registry.list_tasks()] == ["intents"]


def test_versions_current_history_and_gate(registry: Registry) -> None:
    v1 = registry.add_version("intents", b"blob-1", {"certified": True})
    v2 = registry.add_version("intents", b"blob-2", {"certified": True})
    assert (v1, v2) == ("v1", "v2")
    assert registry.current("intents") is None
    registry.set_current("intents", v1, reason="first")
    registry.set_current("intents", v2, reason="better")
    registry.set_current("intents", v1, action="rollback", reason="operator")
    assert registry.current("intents") == "v1"
    assert registry.blob("intents", "v2") == b"blob-2"
    assert registry.manifest("intents", "v2") == {"certified": True, "version": "v2",
                                                  "task": "intents"}
    assert [h["action"] for h in registry.history("intents")] == ["rollback", "promote",
                                                                  "promote"]
    assert registry.gate("intents")["open"] is True
    registry.set_gate("intents", open_=False, reason="live monitor alarm")
    assert registry.gate("intents") == {"open": False, "reason": "live monitor alarm",
                                        "since": pytest.approx(registry.gate("intents")["since"])}
    with pytest.raises(RegistryError, match="unknown version"):
        registry.set_current("intents", "v9")
    with pytest.raises(RegistryError, match="no such model version"):
        registry.blob("intents", "v9")
