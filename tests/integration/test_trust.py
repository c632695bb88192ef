"""The model trust boundary on the real broker and Redis (issue 11): a validly signed artefact
whose payload would run code is refused by the router and nothing runs; a model certified for
another task, for another label set, or for the task before a label was renamed is refused
(deferred with its reason); a ``task apply`` reaches the router and the worker's task cache in
under 2 s, without waiting for their 5 s / 60 s refresh timers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.forgery import object_array, pickled_tree_member
from tests.integration.procs import MODEL_KEY, wait_until
from tests.integration.test_router_kit import (
    Collector,
    Deployment,
    Router,
    answers,
    fit_model,
    make_deployment,
    request,
    synthetic,
)
from tracer_stream.config import KafkaSettings, RedisSettings
from tracer_stream.contracts import LLMRequest, RoutedLabel
from tracer_stream.labelling.tasks import TaskCache
from tracer_stream.registry import Registry, TaskWatch
from tracer_stream.tasks import Task

CHANGE_DEADLINE_S = 2.0


@pytest.fixture(scope="module")
def dep(kafka: KafkaSettings, redis_settings: RedisSettings, service_env: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = make_deployment(kafka, redis_settings, service_env,
                                 tmp_path_factory.mktemp("trust"))
    yield deployment
    deployment.close()


@pytest.fixture(scope="module")
def router(dep: Deployment) -> Router:
    # the registry poll is 10 minutes away: only the task change feed explains a fast reaction
    return dep.router(TRACER_STREAM_ROUTER_MODEL_REFRESH_S="600")


@pytest.fixture
def out(dep: Deployment) -> Iterator[Collector]:
    collector = Collector(dep.kafka, dep.topics)
    yield collector
    collector.close()


def reason_of(out: Collector, request_id: str) -> str | None:
    """The defer reason of the request's answer (None: the surrogate answered)."""
    (answer,) = answers(out.by_request()[request_id])
    if isinstance(answer, RoutedLabel):
        return None
    assert isinstance(answer, LLMRequest), answer
    return answer.reason


def test_validly_signed_code_in_a_model_is_refused_and_never_runs(
        dep: Deployment, router: Router, out: Collector, tmp_path: Path) -> None:
    model = fit_model(seed=0)
    tasks = {dep.new_task("pickle"): tmp_path / "pickle-ran",
             dep.new_task("objects"): tmp_path / "object-array-ran"}
    (pickled, objects) = tasks
    dep.publish_blob(pickled, pickled_tree_member(model, MODEL_KEY, tasks[pickled]),
                     model.manifest)
    dep.publish_blob(objects, object_array(MODEL_KEY, tasks[objects]), model.manifest)
    text = synthetic(1, seed=0)[0][0]
    dep.send([request(f"forged-{t}", text, t) for t in tasks])
    out.wait_for({f"forged-{t}" for t in tasks})
    assert {t: reason_of(out, f"forged-{t}") for t in tasks} == {
        t: "model_invalid" for t in tasks}
    assert not any(marker.exists() for marker in tasks.values()), "the payload ran"
    log = router.proc.output()
    assert all(f"task {t} version v1 cannot be loaded: artefact payload is malformed" in log
               for t in tasks)
    assert all(router.metric("tracer_stream_router_deferred_total", task=t,
                             reason="model_invalid") == 1 for t in tasks)


def test_a_model_of_another_task_or_label_set_is_refused(
        dep: Deployment, router: Router, out: Collector) -> None:
    model = fit_model(seed=1)  # answers card / travel / weather
    good, foreign_task, foreign_labels, lying = (
        dep.new_task(n) for n in ("good", "ftask", "flabels", "lying"))
    certified_for_good = dep.registry.get_task(good)
    assert certified_for_good is not None
    dep.publish(good, model)
    dep.publish(foreign_task, model, bind_to=certified_for_good)
    other_labels = dep.registry.get_task(foreign_labels)
    assert other_labels is not None
    dep.publish(foreign_labels, model, bind_to=Task.model_validate(
        {**other_labels.model_dump(), "labels": ["refund", "cancel", "other"]}))
    two_labels = dep.registry.get_task(lying)
    assert two_labels is not None
    two_labels = two_labels.model_copy(update={"labels": two_labels.labels[:2]})
    dep.registry.put_task(two_labels)
    dep.publish(lying, model, bind_to=two_labels)  # its binding fits, its labels do not
    texts, labels = synthetic(40, seed=5)
    weather = next(t for t, y in zip(texts, labels, strict=True) if y == "weather")
    tasks = (good, foreign_task, foreign_labels, lying)
    dep.send([request(f"bind-{t}", weather, t) for t in tasks])
    out.wait_for({f"bind-{t}" for t in tasks})
    assert {t: reason_of(out, f"bind-{t}") for t in tasks} == {
        good: None, foreign_task: "model_binding_mismatch", foreign_labels: "task_changed",
        lying: "model_binding_mismatch"}
    log = router.proc.output()
    assert f"was certified for task {good!r}, not {foreign_task!r}" in log
    assert "the model answers labels the task does not have: ['weather']" in log
    assert all(router.metric("tracer_stream_router_deferred_total", task=t,
                             reason="model_binding_mismatch") == 1 for t in (foreign_task, lying))


def test_a_renamed_label_closes_the_gate_within_two_seconds(
        dep: Deployment, router: Router, out: Collector) -> None:
    task = dep.new_task("rename")
    dep.publish(task, fit_model(seed=2))
    texts, _ = synthetic(400, seed=6)
    dep.send([request(f"before-{i}", t, task) for i, t in enumerate(texts[:30])])
    out.wait_for({f"before-{i}" for i in range(30)})
    served = [reason_of(out, f"before-{i}") for i in range(30)]
    assert served.count(None) >= 20, served  # the surrogate answers most of them
    definition = dep.registry.get_task(task)
    assert definition is not None
    renamed = definition.model_copy(update={"labels": tuple(
        label.model_copy(update={"name": "bank_card"}) if label.name == "card" else label
        for label in definition.labels)})
    dep.registry.put_task(renamed)  # what `tracer-stream task apply` does
    applied = time.monotonic()
    for probe in range(60):  # one probe at a time until the router defers with task_changed
        sent = time.monotonic() - applied
        dep.send([request(f"probe-{probe}", texts[30 + probe], task)])
        out.wait_for({f"probe-{probe}"})
        if reason_of(out, f"probe-{probe}") == "task_changed":
            break
    # the deferred probe was sent `sent` seconds after the apply: the router knew by then
    assert reason_of(out, f"probe-{probe}") == "task_changed"
    assert sent < CHANGE_DEADLINE_S, f"the gate closed only {sent:.2f} s after the change"
    wait_until(lambda: f"task {task} version v1 refused (task_changed)" in router.proc.output(),
               5, what="the refusal logged")
    after = [f"after-{i}" for i in range(40)]
    dep.send([request(rid, texts[100 + i], task) for i, rid in enumerate(after)])
    out.wait_for(set(after))
    assert {reason_of(out, rid) for rid in after} == {"task_changed"}
    labels = [m.label for rid in after for m in out.by_request()[rid]
              if isinstance(m, RoutedLabel)]
    assert labels == []  # the removed label "card" is never answered again
    refit = fit_model(seed=2, rename={"card": "bank_card"})  # a refit on the new definition
    dep.publish(task, refit, bind_to=renamed)
    dep.announce(task, "v2")
    wait_until(lambda: router.metric("tracer_stream_router_model_info", task=task,
                                     version="v2") == 1, 20, what="v2 served")
    dep.send([request("after-refit", texts[300], task)])
    out.wait_for({"after-refit"})
    assert reason_of(out, "after-refit") in (None, "below_threshold", "not_accepted")


def test_the_worker_task_cache_sees_a_task_apply_within_two_seconds(
        redis_settings: RedisSettings) -> None:
    registry = Registry.from_settings(redis_settings.model_copy(
        update={"key_prefix": f"watch-{time.time_ns()}:"}))
    task = Task(name="intents", labels=["card", "weather"])
    registry.put_task(task)
    cache = TaskCache(registry, refresh_s=60.0)
    assert cache.get("intents") == task
    watch = TaskWatch(registry, cache.invalidate).start()
    try:
        changed = task.model_copy(update={"labels": (task.labels[0],
                                                     task.labels[1].model_copy(
                                                         update={"name": "forecast"}))})
        registry.put_task(changed)
        applied = time.monotonic()
        wait_until(lambda: cache.get("intents") == changed, CHANGE_DEADLINE_S, 0.02,
                   what="the worker's cache to see the new labels")
        assert time.monotonic() - applied < CHANGE_DEADLINE_S
    finally:
        watch.stop()
        registry.close()


def test_the_task_watch_recovers_changes_it_could_not_hear(
        redis_settings: RedisSettings) -> None:
    """The poll fallback: a change applied while nobody listened is reported at the next
    check (pub/sub alone would have lost it)."""
    registry = Registry.from_settings(redis_settings.model_copy(
        update={"key_prefix": f"watch-{time.time_ns()}:"}))
    seen: list[str] = []
    watch = TaskWatch(registry, seen.append)
    try:
        watch.check()  # baseline, no thread: nothing subscribes
        registry.put_task(Task(name="a", labels=["x", "y"]))
        registry.put_task(Task(name="b", labels=["x", "y"]))
        assert watch.check() == ["a", "b"] and seen == ["a", "b"]
        assert watch.check() == []
    finally:
        registry.close()
