"""The router as a subprocess on the real broker and Redis: dead letters while serving,
surrogate answers from a certified model, audit copies, duplicates, hot-swap on announce,
probes and metrics, clean SIGTERM. One router serves the whole module; each test works on
tasks of its own, which the router loads on first sight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.procs import wait_until
from tests.integration.test_router_kit import (
    EMBEDDER,
    Collector,
    Deployment,
    Router,
    answers,
    create_foreign_topic,
    fit_model,
    make_deployment,
    request,
    synthetic,
    topic_is_empty,
)
from tracer_stream.config import KafkaSettings, RedisSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, RoutedLabel
from tracer_stream.embed import load_embedder
from tracer_stream.embed.fingerprint import MANIFEST_KEY as NUMERICS_KEY
from tracer_stream.embed.fingerprint import numerics_fingerprint
from tracer_stream.signing import SigningKey


@pytest.fixture(scope="module")
def dep(kafka: KafkaSettings, redis_settings: RedisSettings, service_env: dict[str, str],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = make_deployment(kafka, redis_settings, service_env,
                                 tmp_path_factory.mktemp("router"))
    yield deployment
    deployment.close()


@pytest.fixture(scope="module")
def router(dep: Deployment) -> Router:
    # registry polls are rare: only an announcement explains a prompt swap
    return dep.router(TRACER_STREAM_LIMITS_MAX_MESSAGE_BYTES="16384",
                      TRACER_STREAM_LIMITS_MAX_TEXT_CHARS="100",
                      TRACER_STREAM_ROUTER_MODEL_REFRESH_S="600")


@pytest.fixture
def out(dep: Deployment) -> Iterator[Collector]:
    collector = Collector(dep.kafka, dep.topics)
    yield collector
    collector.close()


def test_bad_requests_are_dead_lettered_while_the_router_keeps_serving(
        dep: Deployment, router: Router, out: Collector) -> None:
    task = dep.new_task("nomodel")
    foreign = create_foreign_topic(dep.kafka)
    assert router.get("/healthz").status_code == 200
    dep.send([b"{oops", orjson.dumps({"schema_version": 1, "request_id": "no-text",
                                       "task": task}),
              orjson.dumps({"schema_version": 1, "request_id": "big", "task": task,
                            "text": "x" * 20000})])
    dep.send([request("long", "y" * 101, task), request("who", "hi", "no-such-task"),
              request("ok-1", "my card was stolen", task, metadata={"k": 1}),
              request("ok-2", "rain forecast", task),
              request("typo", "hi", task, reply_topic="tracer.replies.no-such-topic"),
              request("own", "hi", task, reply_topic=dep.topics.name("traces")),
              request("foreign", "hi", task, reply_topic=foreign)])
    ids = {"no-text", "big", "long", "who", "ok-1", "ok-2", "typo", "own", "foreign"}
    out.wait_for(ids)

    def ten() -> bool:
        out.poll()
        return len(out.messages) >= 10

    wait_until(ten, 10, what="10 outputs")
    letters = [m for _t, m in out.messages if isinstance(m, DeadLetter)]
    got = sorted((m.reason, m.field or "", m.request_id or "") for m in letters)
    assert got == [("malformed_json", "", ""),
                   ("reply_topic_not_allowed", "reply_topic", "foreign"),
                   ("reply_topic_not_allowed", "reply_topic", "own"),
                   ("schema_violation", "text", "no-text"),
                   ("text_too_long", "text", "long"), ("too_large", "", "big"),
                   ("unknown_reply_topic", "reply_topic", "typo"),
                   ("unknown_task", "task", "who")]
    assert all(len(out.by_request()[i]) == 1 for i in ids)  # exactly one outcome each
    assert topic_is_empty(dep.kafka, foreign)
    for letter in letters:
        assert letter.stage == "router" and letter.payload
        assert letter.source_topic == dep.topics.name("requests")
        assert letter.source_offset is not None and letter.source_partition is not None
    ok = out.by_request()["ok-1"]
    assert len(ok) == 1 and isinstance(ok[0], LLMRequest)
    assert (ok[0].reason, ok[0].answer_requester, ok[0].metadata) == ("no_model", True, {"k": 1})
    assert ok[0].embedding is not None and len(ok[0].embedding) == 256
    assert ok[0].embedder_id is not None and ok[0].embedder_id.startswith("hash/256/")
    assert router.proc.alive()
    # the metrics of a batch are counted after its outputs are delivered: wait for them
    expected = {("tracer_stream_router_dead_letters_total", (("reason", "unknown_task"),)): 1,
                ("tracer_stream_router_deferred_total",
                 (("task", task), ("reason", "no_model"))): 2,
                ("tracer_stream_router_requests_total",
                 (("task", task), ("outcome", "dead_letter"))): 6,
                ("tracer_stream_router_requests_total",  # undecodable, and the unknown task
                 (("task", "_unknown"), ("outcome", "dead_letter"))): 2}
    wait_until(lambda: all(router.metric(name, **dict(labels)) == value
                           for (name, labels), value in expected.items()), 10,
               what="the batch's metrics")


def test_a_request_can_be_retried_with_the_same_id_after_a_dead_letter(
        dep: Deployment, router: Router, out: Collector) -> None:
    task = dep.new_task("retry")
    dep.send([request("again", "y" * 101, task)])
    out.wait_for({"again"})
    (first,) = out.by_request()["again"]
    assert isinstance(first, DeadLetter) and first.reason == "text_too_long"
    dep.send([request("again", "my card was stolen", task)])  # the client fixed the text

    def answered() -> bool:
        out.poll()
        return any(isinstance(m, LLMRequest) for m in out.by_request()["again"])

    wait_until(answered, 20, what="the retry forwarded to the LLM")
    assert [type(m).__name__ for m in out.by_request()["again"]] == ["DeadLetter", "LLMRequest"]


def test_certified_model_answers_audits_and_skips_duplicates(
        dep: Deployment, router: Router, out: Collector) -> None:
    task, audited = dep.new_task("served"), dep.new_task("audited", audit_rate=1.0)
    version = dep.publish(task, fit_model(seed=0))
    dep.publish(audited, fit_model(seed=0))
    texts, labels = synthetic(40, seed=7)
    dep.send([request(f"c{i}", t, task) for i, t in enumerate(texts)])
    dep.send([request(f"a{i}", t, audited) for i, t in enumerate(texts[:5])])
    ids = {f"c{i}" for i in range(40)} | {f"a{i}" for i in range(5)}
    out.wait_for(ids)

    def audits_in() -> bool:  # a label and its audit request travel on two topics
        out.poll()
        kinds = [{type(m).__name__ for m in out.by_request()[f"a{i}"]} for i in range(5)]
        return all("RoutedLabel" not in k or "LLMRequest" in k for k in kinds)

    wait_until(audits_in, 20, what="the audit request of every audited label")
    by_id = out.by_request()
    handled = [m for i in range(40) for m in by_id[f"c{i}"] if isinstance(m, RoutedLabel)]
    assert len(handled) >= 30  # separable data: the gate accepts most of it
    assert all(m.source == "surrogate" and m.model_version == version for m in handled)
    assert all(m.timings and m.timings["total_ms"] >= 0 for m in handled)
    agree = sum(m.label == labels[int(m.request_id[1:])] for m in handled)
    assert agree / len(handled) >= 0.9
    assert all(len(answers(by_id[i])) == 1 for i in ids)
    for i in range(5):  # audited: the surrogate's label plus an LLM request for the trace only
        kinds = sorted(type(m).__name__ for m in by_id[f"a{i}"])
        if "RoutedLabel" in kinds:
            assert kinds == ["LLMRequest", "RoutedLabel"]
            audit = next(m for m in by_id[f"a{i}"] if isinstance(m, LLMRequest))
            assert (audit.answer_requester, audit.audit, audit.gate_accepted) == (
                False, True, True)
    # a re-delivered, already answered request is skipped
    dep.send([request("c0", texts[0], task), request("fresh", "sunny and wind", task)])
    out.wait_for({"fresh"})
    out.poll(0.5)
    assert len(out.by_request()["c0"]) == 1
    wait_until(lambda: router.metric("tracer_stream_router_requests_total", task=task,
                                     outcome="duplicate") == 1, 5, what="duplicate counted")
    assert router.metric("tracer_stream_router_model_info", task=task, version=version) == 1
    assert router.metric("tracer_stream_router_audit_draws_total", task=audited) == 5


def test_new_version_announced_mid_stream_is_served_without_restart_or_loss(
        dep: Deployment, router: Router, out: Collector) -> None:
    task = dep.new_task("swap")
    v1 = dep.publish(task, fit_model(seed=0))
    v2_model = fit_model(seed=1)
    texts, _ = synthetic(200, seed=11)
    sent: list[str] = []

    def stream() -> None:
        for i, text in enumerate(texts):
            dep.send([request(f"s{i}", text, task)])
            sent.append(f"s{i}")
            time.sleep(0.01)

    producer = threading.Thread(target=stream)
    producer.start()
    wait_until(lambda: len(sent) > 50, 20, what="first requests")
    v2 = dep.publish(task, v2_model)
    dep.announce(task, v2)
    producer.join()
    out.wait_for(set(sent))
    by_id = out.by_request()
    assert all(len(answers(by_id[i])) == 1 for i in sent), "every request answered once"
    versions = [getattr(by_id[i][0], "model_version", None) for i in sent]
    assert versions[:20] == [v1] * 20
    assert versions[-20:] == [v2] * 20
    assert f"announce {task} promote v2" in router.proc.output()


def test_fail_safe_reasons_defer_instead_of_answering(
        dep: Deployment, router: Router, out: Collector) -> None:
    forged, mismatch, closed, moved = (dep.new_task(n)
                                       for n in ("forged", "mismatch", "closed", "moved"))
    model = fit_model(seed=0)
    # the same embedder identity, but recorded reference vectors that this runtime does not
    # reproduce (as after an onnxruntime or CPU change): embedder_mismatch, not an answer
    record = numerics_fingerprint(load_embedder(EMBEDDER))
    record["vectors"][0] = [-x for x in record["vectors"][0]]
    dep.publish(moved, model.with_manifest_entry(NUMERICS_KEY, record))
    version = dep.publish_blob(forged, model.to_bytes(SigningKey.generate()), model.manifest)
    definition = dep.registry.get_task(mismatch)
    assert definition is not None
    dep.registry.put_task(definition.model_copy(update={"embedder": "hash:128"}))
    dep.publish(mismatch, model)
    dep.publish(closed, model)
    text = synthetic(1, seed=0)[0][0]
    dep.send([request("gate-open", text, closed)])
    out.wait_for({"gate-open"})
    dep.registry.set_gate(closed, open_=False, reason="live monitor alarm")
    from tracer_stream.training.publish import Announcer

    announcer = Announcer(dep.kafka, dep.topics)
    announcer.announce(closed, version, "close_gate", "live monitor alarm")
    announcer.close()
    wait_until(lambda: router.metric("tracer_stream_router_gate_open", task=closed) == 0, 10,
               what="gate closed")
    dep.send([request(f"fs-{t}", text, t) for t in (forged, mismatch, closed, moved)])
    out.wait_for({f"fs-{t}" for t in (forged, mismatch, closed, moved)})
    by_id = out.by_request()
    assert isinstance(by_id["gate-open"][0], RoutedLabel)
    reasons = {t: by_id[f"fs-{t}"][0] for t in (forged, mismatch, closed, moved)}
    assert all(isinstance(m, LLMRequest) for m in reasons.values())
    assert {t: getattr(m, "reason", None) for t, m in reasons.items()} == {
        forged: "model_invalid", mismatch: "embedder_mismatch", closed: "gate_closed",
        moved: "embedder_mismatch"}
    assert "reference vectors moved" in router.proc.output()
    assert "refused" in router.proc.output()  # the forged blob was never deserialised


def test_sigterm_drains_commits_and_exits_zero(dep: Deployment, router: Router) -> None:
    assert router.proc.stop() == 0
    assert "router stopped" in router.proc.output()


def test_task_cli_applies_lists_and_shows(dep: Deployment, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.integration.procs import env_with

    env = env_with(dep.env)
    path = tmp_path / "tasks.yaml"
    path.write_text("- name: cli-task\n  labels: [a, b]\n  alpha: 0.9\n"
                    "- name: cli-other\n  labels: [x, y]\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", "task", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    applied = cli("apply", str(path))
    assert applied.returncode == 0, applied.stderr
    assert "created  cli-task" in applied.stdout
    assert "updated  cli-task" in cli("apply", str(path)).stdout
    listed = cli("list").stdout
    assert "cli-task" in listed and "cli-other" in listed
    shown = orjson.loads(cli("show", "cli-task").stdout)
    assert shown["alpha"] == 0.9 and shown["model"]["current"] is None
    missing = cli("show", "nope")
    assert missing.returncode == 2 and "no task named 'nope'" in missing.stderr
    path.write_text("name: bad\nlabels: [only-one]\n")
    bad = cli("apply", str(path))
    assert bad.returncode == 2 and "invalid task in" in bad.stderr and "labels" in bad.stderr
