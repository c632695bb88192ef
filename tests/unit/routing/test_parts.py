"""Small parts of the routing library: dead letters, the Redis guard, the refresher, the
embedder pool, metrics."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from tests.unit.routing.conftest import TASK, FakeLoader, FakeRecord, FakeSurrogate
from tracer_stream.contracts import ModelAnnounce
from tracer_stream.embed import Embedder, load_embedder
from tracer_stream.routing import (
    BatchResult,
    Decision,
    EmbedderPool,
    ModelHolder,
    ModelRefresher,
    RedisGuard,
    RouterMetrics,
    TaskState,
)
from tracer_stream.routing.records import letter_for
from tracer_stream.tasks import LabelSpec, Task


def test_dead_letter_truncates_payload_and_keeps_text_when_a_character_is_cut() -> None:
    letter = letter_for(FakeRecord("é".encode() * 10), "too_large", "big", max_payload_bytes=5)
    assert letter.payload == "éé" and letter.payload_encoding == "utf-8"
    assert letter.payload_truncated is True
    raw = bytes(range(256))
    letter = letter_for(FakeRecord(raw), "malformed_json", "bin")
    assert letter.payload_encoding == "base64" and letter.payload_truncated is None
    assert base64.b64decode(letter.payload or "") == raw


def test_guard_pauses_after_a_failure_and_recovers() -> None:
    seen: list[tuple[str, bool]] = []
    guard = RedisGuard(pause_s=0.0, observe=lambda op, ok: seen.append((op, ok)))
    assert guard.healthy and guard.seconds_since_ok() == 0.0

    def down() -> int:
        raise redis.ConnectionError("refused")

    assert guard.call(down, -1, "dedupe_read") == -1
    assert not guard.healthy and guard.seconds_since_ok() >= 0.0
    assert guard.call(lambda: 5, -1, "dedupe_read") == 5 and guard.healthy
    assert seen == [("dedupe_read", False), ("dedupe_read", True)]
    slow = RedisGuard(pause_s=60)
    slow.call(down, None, "x")
    assert slow.call(lambda: 5, -1, "x") == -1  # skipped during the pause


def test_refresher_swaps_whole_states_keeps_them_while_redis_is_down_and_closes_gates() -> None:
    holder, loader = ModelHolder(), FakeLoader()
    refresher = ModelRefresher(holder, loader, RedisGuard(pause_s=0.0))
    v1 = TaskState(task=TASK, version="v1", model=FakeSurrogate())
    loader.states["intents"] = v1
    assert refresher.refresh() and holder.loaded
    before = holder.snapshot()
    loader.states["intents"] = TaskState(task=TASK, version="v2", model=FakeSurrogate())
    assert before["intents"].version == "v1"  # a snapshot never changes under its reader
    loader.down = True
    assert not refresher.refresh()
    assert holder.snapshot()["intents"].version == "v1"
    refresher.apply(ModelAnnounce(task="intents", version="v1", action="close_gate",
                                  reason="monitor alarm"))
    closed = holder.snapshot()["intents"]
    assert not closed.gate_open and closed.gate_reason == "monitor alarm"
    loader.down = False
    assert refresher.refresh() and holder.snapshot()["intents"].version == "v2"


def test_refresher_marks_loaded_even_when_redis_is_down_at_start() -> None:
    holder, loader = ModelHolder(), FakeLoader()
    loader.down = True
    ModelRefresher(holder, loader, RedisGuard()).refresh()
    assert holder.loaded and dict(holder.snapshot()) == {}


def test_embedder_pool_loads_once_and_remembers_failures() -> None:
    calls: list[str] = []

    def loader(spec: str) -> Embedder:
        calls.append(spec)
        if spec == "bad":
            raise RuntimeError("no such model")
        return load_embedder("hash:8")

    pool = EmbedderPool("good", loader=loader)
    assert pool.get(None) is pool.get("good")
    assert pool.get("bad") is None and pool.get("bad") is None
    assert calls == ["good", "bad"]


def test_metrics_bound_task_labels_and_track_versions() -> None:
    registry = CollectorRegistry()
    metrics = RouterMetrics(registry)
    served = {"intents": TaskState(task=TASK, version="v1", model=FakeSurrogate())}
    result = BatchResult(decisions=[
        Decision("intents", "handled", audit=True),
        Decision("intents", "deferred", "below_threshold"),
        Decision("garbage-name", "dead_letter", "unknown_task")], cache_hits=1, cache_misses=2)
    metrics.observe_batch(result, served, 0.01, 3)
    metrics.observe_models(served)
    metrics.observe_models({"intents": TaskState(task=TASK, version="v2",
                                                 model=FakeSurrogate(), gate_open=False)})

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    p = "tracer_stream_router_"
    assert value(f"{p}requests_total", task="intents", outcome="handled") == 1
    assert value(f"{p}requests_total", task="_unknown", outcome="dead_letter") == 1
    assert value(f"{p}deferred_total", task="intents", reason="below_threshold") == 1
    assert value(f"{p}dead_letters_total", reason="unknown_task") == 1
    assert value(f"{p}audit_draws_total", task="intents") == 1
    assert value(f"{p}embedding_cache_misses_total") == 2
    assert value(f"{p}latency_seconds_count", path="handled") == 1
    assert value(f"{p}model_info", task="intents", version="v1") is None
    assert value(f"{p}model_info", task="intents", version="v2") == 1
    assert value(f"{p}gate_open", task="intents") == 0


def bound(task: Task = TASK) -> FakeSurrogate:
    """A fake model whose manifest binds it to ``task`` (as the trainer binds its models)."""
    from tracer_stream.tasks.binding import binding_for

    return FakeSurrogate(manifest={"binding": binding_for(task, embedder="hash", delta_k=0.01,
                                                          traces={"n": 1})})


def loader_with(model: FakeSurrogate) -> tuple[Any, list[bytes]]:
    """A registry holding TASK with a current version, and a loader that returns ``model``."""
    from tests.unit.training.memredis import MemRedis
    from tracer_stream.registry import Registry
    from tracer_stream.routing.loader import StateLoader
    from tracer_stream.signing import SigningKey, VerifyKeys

    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(TASK)
    registry.add_version(TASK.name, b"blob", {})
    registry.set_current(TASK.name, "v1")
    loads: list[bytes] = []

    def artefact(blob: bytes, keys: VerifyKeys) -> FakeSurrogate:
        loads.append(blob)
        return model

    keys = VerifyKeys.parse(SigningKey.generate().public_b64)
    return StateLoader(registry, keys, EmbedderPool("hash:32"), artefact_loader=artefact), loads


def test_loader_reads_the_audit_boost_and_keeps_the_loaded_model() -> None:
    loader, loads = loader_with(bound())
    registry = loader.registry
    plain = loader.load(TASK.name)
    assert plain is not None and plain.model is not None and plain.audit_boost == 0.0
    assert plain.audit_rate == TASK.audit_rate
    registry.set_audit_boost(TASK.name, 0.25, ttl_s=600, reason="drift")
    boosted = loader.load(TASK.name, plain)
    assert boosted is not None and boosted.audit_rate == 0.25
    assert boosted.model is plain.model and len(loads) == 1  # no reload for a boost
    registry.clear_audit_boost(TASK.name, "v2 promoted")
    cleared = loader.load(TASK.name, boosted)
    assert cleared is not None and cleared.audit_rate == TASK.audit_rate


def test_a_model_that_failed_to_load_is_tried_again_with_backoff() -> None:
    from tests.unit.training.memredis import MemRedis
    from tracer_stream.registry import Registry
    from tracer_stream.routing.loader import StateLoader

    registry = Registry(MemRedis())  # type: ignore[arg-type]
    registry.put_task(TASK)
    registry.add_version(TASK.name, b"blob", {})
    registry.set_current(TASK.name, "v1")
    now = [100.0]
    broken = [True]

    def artefact(blob: bytes, key: bytes) -> FakeSurrogate:
        if broken[0]:
            raise ValueError("truncated blob")
        return bound()

    loader = StateLoader(registry, b"key", EmbedderPool("hash:32"), artefact_loader=artefact,
                         clock=lambda: now[0])
    first = loader.load(TASK.name)
    assert first is not None and first.model is None and first.unavailable == "model_invalid"
    assert (first.load_failures, first.retry_at) == (1, 102.0)
    now[0] = 101.0
    assert loader.load(TASK.name, first) == first  # not due yet
    now[0] = 102.5
    second = loader.load(TASK.name, first)
    assert second is not None and (second.load_failures, second.retry_at) == (2, 106.5)
    broken[0] = False  # e.g. the embedder came back, or the blob was rewritten
    now[0] = 107.0
    third = loader.load(TASK.name, second)
    assert third is not None and third.model is not None and third.load_failures == 0


@pytest.mark.parametrize(("model", "reason"), [
    (FakeSurrogate(), "model_binding_mismatch"),  # no binding at all
    (bound(TASK.model_copy(update={"name": "payments"})), "model_binding_mismatch"),
    (bound(TASK.model_copy(update={"labels": (*TASK.labels, LabelSpec(name="fraud"))})),
     "task_changed"),
    (bound(TASK.model_copy(update={"delta": TASK.delta / 2})), None),  # certified stricter
])
def test_loader_refuses_a_model_bound_to_another_task(model: FakeSurrogate,
                                                      reason: str | None) -> None:
    loader, _ = loader_with(model)
    state = loader.load(TASK.name)
    assert state is not None
    assert state.unavailable == reason and (state.model is None) == (reason is not None)


def test_a_label_rename_closes_the_served_model_without_reloading_it() -> None:
    loader, loads = loader_with(bound())
    served = loader.load(TASK.name)
    assert served is not None and served.model is not None
    renamed = TASK.model_copy(update={"labels": (LabelSpec(name="card_issue"),
                                                 LabelSpec(name="other"))})
    loader.registry.put_task(renamed)
    after = loader.load(TASK.name, served)
    assert after is not None and after.model is None and after.unavailable == "task_changed"
    assert len(loads) == 1  # the binding check ran on the model in memory
    loader.registry.put_task(TASK)  # renamed back: the same model serves again
    again = loader.load(TASK.name, after)
    assert again is not None and again.model is not None


def test_a_prompt_change_closes_the_gate_but_an_audit_rate_change_does_not() -> None:
    loader, _ = loader_with(bound())
    served = loader.load(TASK.name)
    loader.registry.put_task(TASK.model_copy(update={"audit_rate": 0.5}))
    audit = loader.load(TASK.name, served)
    assert audit is not None and audit.model is not None and audit.audit_rate == 0.5
    loader.registry.put_task(TASK.model_copy(update={
        "prompt_template": "Classify {text} into one of {labels}. Answer:"}))
    prompt = loader.load(TASK.name, audit)
    assert prompt is not None and prompt.unavailable == "task_changed"


def test_metrics_publish_the_effective_audit_rate() -> None:
    registry = CollectorRegistry()
    metrics = RouterMetrics(registry)
    metrics.observe_models({"intents": TaskState(task=TASK, version="v1", model=FakeSurrogate(),
                                                 audit_boost=0.25)})
    assert registry.get_sample_value("tracer_stream_router_audit_rate",
                                     {"task": "intents"}) == 0.25
