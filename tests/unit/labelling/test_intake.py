"""What a consumed record turns into before any LLM call: a job, a dead letter that names the
request whenever the record did (D4), or nothing for a redelivery already answered."""

from __future__ import annotations

import orjson
import pytest
import redis

from tracer_stream.config import LimitsSettings, TopicSettings
from tracer_stream.contracts import DeadLetter, LLMRequest, Outbound, encode
from tracer_stream.labelling import (
    ALREADY_ANSWERED,
    Intake,
    Job,
    Origin,
    OutcomeLog,
    RegistryUnavailable,
    TaskCache,
    identify,
)
from tracer_stream.labelling.outcomes import position
from tracer_stream.tasks import Task

TOPICS = TopicSettings(prefix="u.")
LIMITS = LimitsSettings(max_message_bytes=4096, max_text_chars=100)
TASK = Task(name="intents", labels=["refund", "cancel"])


class Registry:
    def __init__(self) -> None:
        self.down = False

    def get_task(self, name: str) -> Task | None:
        if self.down:
            raise redis.ConnectionError("refused")
        return TASK if name == "intents" else None


class Answered:
    """An outcome log over a set (the Redis one is exercised by the integration tests)."""

    def __init__(self, *done: tuple[str, str, str]) -> None:
        self.done = set(done)

    def answered(self, record: tuple[str, str, str]) -> bool:
        return record in self.done


def intake(registry: Registry | None = None, refusal: tuple[str, str] | None = None,
           answered: Answered | None = None) -> Intake:
    return Intake(topics=TOPICS, limits=LIMITS, tasks=TaskCache(registry or Registry()),
                  reply_refusal=lambda _topic: refusal,
                  outcomes=answered)  # type: ignore[arg-type]


def raw_request(**fields: object) -> bytes:
    base: dict[str, object] = dict(request_id="r-1", task="intents", text="money back please",
                                   answer_requester=True, audit=False, gate_accepted=False)
    return encode(LLMRequest(**(base | fields)))  # type: ignore[arg-type]


def letter(result: object) -> DeadLetter:
    assert isinstance(result, Outbound) and isinstance(result.message, DeadLetter), result
    assert result.topic == "u.dead-letter"
    return result.message


def origin(raw: bytes) -> Origin:
    return Origin("u.llm-requests", 1, 5, raw)


def test_a_valid_request_becomes_a_job() -> None:
    raw = raw_request()
    job = intake().prepare(raw, origin(raw))
    assert isinstance(job, Job)
    assert (job.request.request_id, job.task.name, job.origin.offset) == ("r-1", "intents", 5)


def test_an_oversized_record_is_dead_lettered_with_its_request_id_and_task() -> None:
    raw = raw_request(embedding=[0.123456789] * 600)  # far above the 4 KiB limit
    assert len(raw) > LIMITS.max_message_bytes
    dead = letter(intake().prepare(raw, origin(raw)))
    assert (dead.reason, dead.request_id, dead.task) == ("too_large", "r-1", "intents")


def test_a_record_cut_short_or_breaking_the_schema_still_names_its_request() -> None:
    cut = raw_request()[:-20]
    dead = letter(intake().prepare(cut, origin(cut)))
    assert (dead.reason, dead.request_id, dead.task) == ("malformed_json", "r-1", "intents")
    doc = orjson.loads(raw_request())
    doc["audit"] = "yes"
    bad = orjson.dumps(doc)
    dead = letter(intake().prepare(bad, origin(bad)))
    assert (dead.reason, dead.request_id, dead.task, dead.field) == (
        "schema_violation", "r-1", "intents", "audit")
    dead = letter(intake().prepare(b"\x00\x01", origin(b"\x00\x01")))
    assert (dead.reason, dead.request_id, dead.task) == ("malformed_json", None, None)


def test_identify_reads_only_top_level_strings_of_the_readable_prefix() -> None:
    assert identify(b'  {"text": "a", "request_id": "r-9", "task": "t"') == (
        identify(b'{"request_id":"r-9","task":"t"}'))
    assert identify(b'{"request_id": 7, "task": ["t"]}').request_id is None
    assert identify(b'{"text": "unterminated, "request_id": "r-9"}').request_id is None
    assert identify(b'{"request_id": "' + b"x" * 300 + b'"}').request_id is None
    assert identify(None).task is None


@pytest.mark.parametrize(("raw", "refusal", "reason", "field"), [
    (raw_request(text="x" * 101), None, "text_too_long", "text"),
    (raw_request(task="nope"), None, "unknown_task", "task"),
    (raw_request(reply_topic="u.models"), ("reply_topic_not_allowed", "own topic"),
     "reply_topic_not_allowed", "reply_topic"),
])
def test_requests_that_cannot_be_labelled_get_one_dead_letter(
        raw: bytes, refusal: tuple[str, str] | None, reason: str, field: str) -> None:
    dead = letter(intake(refusal=refusal).prepare(raw, origin(raw)))
    assert (dead.reason, dead.field, dead.request_id, dead.stage) == (
        reason, field, "r-1", "worker")
    assert (dead.source_partition, dead.source_offset) == (1, 5)


def test_audit_copies_are_not_checked_against_reply_topics() -> None:
    raw = raw_request(answer_requester=False, reply_topic="u.models")
    assert isinstance(intake(refusal=("reply_topic_not_allowed", "x")).prepare(raw, origin(raw)),
                      Job)


def test_a_redelivered_record_already_answered_yields_nothing_but_a_new_one_is_answered(
        ) -> None:
    raw = raw_request()
    log = Answered(("intents", "r-1", "u.llm-requests/1/5"))
    assert intake(answered=log).prepare(raw, origin(raw)) is ALREADY_ANSWERED
    # The same request id in a new record (a client's retry after a dead letter) is answered.
    retry = Origin("u.llm-requests", 1, 9, raw)
    assert isinstance(intake(answered=log).prepare(raw, retry), Job)
    other = Answered(("intents", "r-2", "u.llm-requests/1/5"))
    assert isinstance(intake(answered=other).prepare(raw, origin(raw)), Job)


def test_an_unknown_task_while_redis_is_down_is_not_decided() -> None:
    registry = Registry()
    registry.down = True
    raw = raw_request()
    with pytest.raises(RegistryUnavailable):
        intake(registry).prepare(raw, origin(raw))


def test_the_outcome_log_keys_by_request_and_record_and_is_off_at_ttl_zero() -> None:
    log = OutcomeLog(None, prefix="p:", ttl_s=0)  # type: ignore[arg-type]
    record = ("t", "r", position("x", 0, 3))
    assert log.key(record) == "p:outcome:t:r@x/0/3"
    assert not log.answered(record) and log.mark([(record, "trace")])
