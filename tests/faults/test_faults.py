"""The delivery contract under faults: every request ends in exactly one outcome.

Each scenario runs on a deployment (broker, Redis, router, LLM worker, sometimes the trainer, a
fake OpenAI-compatible LLM), sends at least 500 requests of a task of its own, injects one
fault, waits for the outcomes and checks the whole ledger (``tests/faults/ledger.py``): no
request lost, none with two different outcomes. Scenarios that pause or restart the broker or
Redis, run the trainer or change a setting (``@pytest.mark.deployment``) get a deployment of
their own; the others share one per module (``tests/faults/harness.py`` says how they stay
apart). Each prints one line, e.g.
``sigkill router: requests 500, labelled 500, dead-lettered 0 (none), lost 0, double 0``.

The suite can fail, and did, against the code before the fixes of issue 12:

* ``test_worker_slower_than_the_poll_interval`` on the batch worker (commit ``3507349``): the
  worker lost its partition at every batch (``commit failed: Unknown member``) and labelled
  the same requests again and again: 608 repeated labels, and 404 of the 500 requests still
  without an outcome after 300 s (D2).
* ``test_a_dead_letter_is_final_only_for_its_attempt`` with only the router's half of the fix
  (commit ``f8623cb``): the retries of requests the worker had dead-lettered were dropped by
  the router's dedupe, so they never got a label (D3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.faults.harness import FaultDeployment, deployment
from tests.faults.ledger import Ledger
from tests.integration.procs import wait_until
from tracer_stream.bus import BatchConsumer
from tracer_stream.contracts import LLMRequest, decode
from tracer_stream.registry import Registry

pytestmark = [pytest.mark.faults, pytest.mark.integration]

N = 500


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDeployment]:
    with deployment(tmp_path_factory.mktemp("shared")) as d:
        d.start_all()
        yield d


@pytest.fixture
def dep(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FaultDeployment]:
    """The scenario's own deployment (``@pytest.mark.deployment(**kwargs)``), else the shared
    one with a task of the scenario's own, checked healthy afterwards."""
    marker = request.node.get_closest_marker("deployment")
    if marker is None:
        shared: FaultDeployment = request.getfixturevalue("shared")
        shared.new_scenario()
        yield shared
        shared.check_healthy()
        return
    with deployment(tmp_path, **marker.kwargs) as d:
        d.start_all()
        yield d


def _check(dep: FaultDeployment, name: str, ledger: Ledger) -> None:
    line = f"{name}: {ledger.summary()}"
    print(line)
    assert not ledger.missing(), f"{line}\n{dep.logs()}"
    assert not ledger.double(), f"{line}: {ledger.double()[:5]}\n{dep.logs()}"
    assert not ledger.unmatched, ledger.unmatched[:3]
    ledger.close()


def _halfway(dep: FaultDeployment, ids: list[str], timeout_s: float = 90.0) -> None:
    """Until some of ``ids`` have an outcome (the stream is flowing when the fault hits)."""
    ledger = dep.ledger()
    wait_until(lambda: ledger.poll(0.3) and len(ids) - len(ledger.missing()) >= 20,
               timeout_s, what="the first outcomes")
    ledger.close()


@pytest.mark.parametrize("service", ["router", "worker"])
def test_sigkill_mid_stream(dep: FaultDeployment, service: str) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    dep.kill(service)
    dep.send(N // 2)
    dep.start(service)
    _check(dep, f"sigkill {service}", dep.settle())


@pytest.mark.deployment(with_trainer=True)
def test_sigkill_trainer_mid_stream(dep: FaultDeployment) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    dep.kill("trainer")
    dep.send(N // 2)
    dep.start("trainer")
    _check(dep, "sigkill trainer", dep.settle())


@pytest.mark.deployment()
@pytest.mark.parametrize("what", ["redis", "broker"])
def test_paused_for_20_seconds(dep: FaultDeployment, what: str) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    dep.send(N // 2)
    dep.pause(what, 20.0)
    _check(dep, f"{what} paused 20 s", dep.settle(240.0))


@pytest.mark.deployment()
def test_redis_restarted(dep: FaultDeployment) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    dep.restart_redis()
    dep.send(N // 2)
    _check(dep, "redis restarted", dep.settle(240.0))


@pytest.mark.parametrize("mode", ["rate_limited", "server_error", "hang", "garbage"])
def test_llm_misbehaves_for_a_while(dep: FaultDeployment, mode: str) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    before = dep.misbehaved
    dep.mode = mode
    dep.send(N // 4)
    # until as many calls met the fault as the worker has call slots (64)
    wait_until(lambda: dep.misbehaved - before >= 64, 60,
               what=f"64 LLM calls answered as {mode}")
    dep.mode = "ok"
    dep.send(N // 4)
    _check(dep, f"llm {mode}", dep.settle(240.0))


def test_poison_and_oversized_inputs(dep: FaultDeployment) -> None:
    dep.send(N // 2)
    poison = {
        "not-json": b"{oops",
        "not-utf8": b"\xff\xfe\x00garbage",
        "empty": b"",
        "array": b"[1, 2, 3]",
        "no-text": orjson.dumps({"schema_version": 1, "request_id": "no-text",
                                 "task": dep.task}),
        "long-text": orjson.dumps({"schema_version": 1, "request_id": "long-text",
                                   "task": dep.task, "text": "x" * 9000}),
        "huge": orjson.dumps({"schema_version": 1, "request_id": "huge", "task": dep.task,
                              "text": "y" * 300_000}),
        "no-task": orjson.dumps({"schema_version": 1, "request_id": "no-task",
                                 "task": "never-registered", "text": "hi"}),
    }
    for request_id, payload in poison.items():
        dep.send_raw(request_id, payload)
    dep.flush()
    dep.send(N // 2 - len(poison))
    ledger = dep.settle()
    reasons = {rid: ledger.outcomes[rid][0].value for rid in poison if ledger.outcomes[rid]}
    assert reasons.get("long-text") == "text_too_long" and reasons.get("huge") == "too_large"
    assert reasons.get("no-task") == "unknown_task"
    _check(dep, "poison and oversized inputs", ledger)


def test_task_deleted_mid_stream(dep: FaultDeployment) -> None:
    first = dep.send(N // 2)
    _halfway(dep, first)
    registry = Registry.from_settings(dep.stack.redis)
    try:
        registry.delete_task(dep.task)
    finally:
        registry.close()
    dep.send(N // 2)
    _check(dep, "task deleted", dep.settle())


def test_a_model_that_fails_to_load(dep: FaultDeployment) -> None:
    registry = Registry.from_settings(dep.stack.redis)
    try:
        version = registry.add_version(dep.task, b"not a model at all", {"embedder": "x"})
        registry.set_current(dep.task, version, reason="fault suite")
    finally:
        registry.close()
    dep.send(N)
    _check(dep, "model fails to load", dep.settle())


@pytest.mark.timeout(600)
@pytest.mark.deployment(env_extra={
    "TRACER_STREAM_KAFKA_EXTRA": '{"max.poll.interval.ms": "7000"}',
    "TRACER_STREAM_WORKER_TIMEOUT_S": "20"})
def test_worker_slower_than_the_poll_interval(dep: FaultDeployment) -> None:
    """LLM calls (4 s each) that, a batch at a time, take longer than the consumer's poll
    interval (7 s) (D2)."""
    dep.mode = "slow"
    dep.send(N)
    _check(dep, "llm slower than the poll interval", dep.settle(300.0))


def test_a_dead_letter_is_final_only_for_its_attempt(dep: FaultDeployment) -> None:
    """A client that resubmits a dead-lettered request with the same id is answered (D3)."""
    dep.mode = "garbage"
    bad = dep.send(5, prefix="garbage")
    worker_dead = dep.settle()
    assert all(worker_dead.outcomes[r][0].kind == "dead_letter" for r in bad)
    worker_dead.close()
    too_long = f"long-{uuid.uuid4().hex[:6]}"
    dep.send_raw(too_long, orjson.dumps({"schema_version": 1, "request_id": too_long,
                                         "task": dep.task, "text": "z" * 9000}))
    dep.flush()
    dep.mode = "ok"
    retries = [*bad, too_long]
    for request_id in retries:  # the client fixed whatever was wrong and tries again
        dep.send_raw(request_id, orjson.dumps({
            "schema_version": 1, "request_id": request_id, "task": dep.task,
            "text": f"retry of {request_id}"}))
    dep.flush()
    ledger = dep.ledger()

    def answered() -> bool:
        ledger.poll(0.5)
        return all(any(o.kind == "label" for o in ledger.outcomes[r]) for r in retries)

    wait_until(answered, 120, what="every retry answered")
    for request_id in retries:
        kinds = {o.kind for o in ledger.outcomes[request_id]}  # two topics: no order between
        assert kinds == {"dead_letter", "label"}, (request_id, kinds)
    ledger.close()


def test_the_ledger_sees_a_lost_request(tmp_path: Path) -> None:
    """The check itself can fail: with no worker running, requests the router deferred stay
    unanswered."""
    with deployment(tmp_path) as dep:
        dep.start("router")
        ids = set(dep.send(20))
        deferred = BatchConsumer(dep.stack.kafka, f"deferred-{uuid.uuid4().hex[:8]}",
                                 [dep.stack.topics.name("llm_requests")])
        seen: set[str] = set()

        def all_deferred() -> bool:
            seen.update(decode(LLMRequest, r.value() or b"").request_id
                        for r in deferred.poll_batch(100, 0.5))
            return seen >= ids

        try:
            wait_until(all_deferred, 90, what="the router deferring every request")
        finally:
            deferred.close()
        ledger = dep.settle(2.0)
        assert len(ledger.missing()) == 20
        ledger.close()

