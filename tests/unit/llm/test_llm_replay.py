"""The replay teacher and building teachers from settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tracer_stream.config import WorkerSettings
from tracer_stream.errors import ConfigError
from tracer_stream.llm import (
    Answer,
    AnthropicBackend,
    Backoff,
    OpenAIBackend,
    Pricing,
    ReplayBackend,
    Teacher,
    TeacherError,
    build_teacher,
    client_settings,
    load_replay_file,
)

LABELS = ("refund", "cancel")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "teacher.jsonl"
    path.write_text(text)
    return path


def run(teacher: Teacher, text: str) -> Answer:
    return asyncio.run(teacher.label("Classify:", LABELS, text=text))


def test_both_file_formats_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '{"text": "money back", "label": "refund"}\n\n'
                           '{"input": "stop my order", "teacher": "cancel"}\n')
    assert load_replay_file(path) == {"money back": "refund", "stop my order": "cancel"}


@pytest.mark.parametrize(("content", "problem"), [
    ("not json\n", "teacher.jsonl:1: not valid JSON"),
    ('{"text": "a"}\n', "teacher.jsonl:1: no teacher label"),
    ("\n", "no traces"),
])
def test_bad_files_are_reported_with_the_line(tmp_path: Path, content: str, problem: str
                                              ) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_replay_file(write(tmp_path, content))
    with pytest.raises(ConfigError, match="cannot read"):
        load_replay_file(tmp_path / "missing.jsonl")


def test_replay_answers_by_exact_text_with_latency_tokens_and_price() -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    backend = ReplayBackend({"money back": "refund"}, source="demo.jsonl", latency_ms=40,
                            sleep=record)
    teacher = Teacher(backend, pricing=Pricing(per_call=0.01, per_1k_input=1.0))
    answer = run(teacher, "money back")
    assert answer.label == "refund" and teacher.name == "replay:demo.jsonl"
    assert sleeps == [0.04]
    # "Classify:" + "money back" is 19 characters: 5 estimated tokens; "refund" 2
    assert answer.usage.input_tokens == 5 and answer.usage.output_tokens == 2
    assert answer.usage.cost_usd == pytest.approx(0.01 + 0.005)


def test_unknown_text_fails_clearly_without_retries() -> None:
    teacher = Teacher(ReplayBackend({"money back": "refund"}))
    with pytest.raises(TeacherError, match="no answer for text 'something else'") as caught:
        run(teacher, "something else")
    assert caught.value.reason == "replay_unknown_text"
    assert caught.value.usage.retries == 0


def test_injected_errors_are_retried_with_tenacity() -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    always = Teacher(ReplayBackend({"a": "refund"}, error_rate=1.0, max_retries=3,
                                   backoff=Backoff(0.5, 1.0), sleep=no_wait))
    with pytest.raises(TeacherError) as caught:
        run(always, "a")
    assert caught.value.reason == "replay_injected_error"
    assert caught.value.usage.retries == 3
    assert len(waits) == 3 and all(0.0 <= w <= 1.0 for w in waits)

    flaky = Teacher(ReplayBackend({"a": "refund"}, error_rate=0.5, seed=3, sleep=no_wait))
    answers = [run(flaky, "a") for _ in range(20)]
    assert all(a.label == "refund" for a in answers)
    assert sum(a.usage.retries for a in answers) > 0


def test_a_replayed_label_outside_the_label_space_is_unparseable() -> None:
    teacher = Teacher(ReplayBackend({"a": "other"}))
    with pytest.raises(TeacherError) as caught:
        run(teacher, "a")
    assert caught.value.reason == "unparseable_answer" and caught.value.raw_answer == "other"


def test_build_teacher_from_settings(tmp_path: Path) -> None:
    settings = WorkerSettings(backend="replay", replay_file=write(
        tmp_path, '{"text": "a", "label": "refund"}'), rate_limit_per_s=3, max_retries=1,
        price_per_1k_input_tokens_usd=0.5)
    teacher = build_teacher(settings)
    assert teacher.name == "replay:teacher.jsonl" and teacher.pricing.per_1k_input == 0.5
    replay = teacher.backend
    assert isinstance(replay, ReplayBackend) and replay.max_retries == 1
    assert replay.limiter is not None and replay.limiter.time_period == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match="REPLAY_FILE"):
        build_teacher(WorkerSettings(backend="replay"))
    anthropic = build_teacher(WorkerSettings(backend="anthropic", model="claude-x",
                                             max_retries=2, timeout_s=7.0))
    assert anthropic.name == "anthropic:claude-x"
    assert isinstance(anthropic.backend, AnthropicBackend)
    assert anthropic.backend.client.max_retries == 2
    assert str(anthropic.backend.client.base_url).startswith("https://api.anthropic.com")
    openai = build_teacher(WorkerSettings(api_key="sk-from-settings", max_concurrency=5))
    assert isinstance(openai.backend, OpenAIBackend)
    assert str(openai.backend.client.base_url) == "https://api.openai.com/v1/"
    assert openai.backend.client.api_key == "sk-from-settings"
    assert openai.backend.client.timeout == 30.0
    assert "sk-from-settings" not in repr(client_settings(
        WorkerSettings(api_key="sk-from-settings")))
    for teacher in (anthropic, openai):
        asyncio.run(teacher.aclose())
