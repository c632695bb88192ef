"""The teacher against real local HTTP servers speaking the OpenAI and the Anthropic
protocol: every scenario runs against both."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from tests.unit.llm.llm_servers import FakeLLMServer, Reply
from tracer_stream.llm import (
    Answer,
    AnthropicBackend,
    OpenAIBackend,
    Pricing,
    RetryPolicy,
    Teacher,
    TeacherError,
)

LABELS = ("positive", "negative", "neutral")
PROMPT = "Classify the sentiment.\nText: great stuff\nLabel:"
KEY = "sk-test-0123456789-SECRET"


def make_teacher(server: FakeLLMServer, *, timeout_s: float = 5.0, max_retries: int = 3,
                 sleeps: list[float] | None = None, **kwargs: Any) -> Teacher:
    cls = OpenAIBackend if server.protocol == "openai" else AnthropicBackend
    backend = cls(model="test-model", base_url=server.base_url, api_key=KEY,
                  timeout_s=timeout_s)
    record = sleeps if sleeps is not None else []

    async def no_wait(seconds: float) -> None:
        record.append(seconds)

    return Teacher(backend, policy=RetryPolicy(max_retries, 0.01, 5.0), sleep=no_wait,
                   **kwargs)


def label(teacher: Teacher, prompt: str = PROMPT) -> Answer:
    async def go() -> Answer:
        try:
            return await teacher.label(prompt, LABELS)
        finally:
            await teacher.aclose()

    return asyncio.run(go())


def test_success_sends_the_protocol_and_counts_tokens_and_cost(server: FakeLLMServer) -> None:
    server.script = [Reply("positive", input_tokens=120, output_tokens=3)]
    pricing = Pricing(per_call=0.001, per_1k_input=0.5, per_1k_output=2.0)
    answer = label(make_teacher(server, pricing=pricing))
    assert (answer.label, answer.raw, answer.corrected) == ("positive", "positive", False)
    assert (answer.usage.calls, answer.usage.retries) == (1, 0)
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (120, 3)
    assert answer.usage.cost_usd == pytest.approx(0.001 + 0.06 + 0.006)
    assert answer.latency_ms > 0
    [request] = server.requests
    assert request.path == server.path
    assert request.body["model"] == "test-model"
    assert request.body["temperature"] == 0
    assert request.body["messages"] == [{"role": "user", "content": PROMPT}]
    if server.protocol == "openai":
        assert request.headers["authorization"] == f"Bearer {KEY}"
    else:
        assert request.headers["x-api-key"] == KEY
        assert request.headers["anthropic-version"] == "2023-06-01"
        assert request.body["max_tokens"] == 64


def test_429_is_retried_after_the_servers_retry_after(server: FakeLLMServer) -> None:
    server.script = [Reply(status=429, headers={"Retry-After": "2"}), Reply("negative")]
    sleeps: list[float] = []
    answer = label(make_teacher(server, sleeps=sleeps))
    assert answer.label == "negative"
    assert sleeps == [2.0]
    assert (answer.usage.calls, answer.usage.retries, len(server.requests)) == (1, 1, 2)


def test_500_is_retried_with_jittered_backoff(server: FakeLLMServer) -> None:
    server.script = [Reply(status=500), Reply(status=503), Reply("neutral")]
    sleeps: list[float] = []
    answer = label(make_teacher(server, sleeps=sleeps))
    assert answer.label == "neutral"
    assert len(sleeps) == 2
    assert 0.0 <= sleeps[0] <= 0.01 and 0.0 <= sleeps[1] <= 0.02
    assert answer.usage.retries == 2 and len(server.requests) == 3


def test_a_timeout_is_retried(server: FakeLLMServer) -> None:
    server.script = [Reply("positive", delay_s=1.5), Reply("negative")]
    answer = label(make_teacher(server, timeout_s=0.3))
    assert answer.label == "negative"
    assert answer.usage.retries == 1 and len(server.requests) == 2


def test_retries_are_bounded(server: FakeLLMServer) -> None:
    server.responder = lambda _body: Reply(status=502)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server, max_retries=2))
    assert caught.value.reason == "http_502"
    assert "after 2 retries" in str(caught.value)
    assert caught.value.usage.retries == 2 and len(server.requests) == 3


def test_a_malformed_answer_is_corrected_by_one_follow_up(server: FakeLLMServer) -> None:
    server.script = [Reply("I think the sentiment is positive"), Reply("Positive.")]
    answer = label(make_teacher(server))
    assert (answer.label, answer.corrected, answer.usage.calls) == ("positive", True, 2)
    follow_up = server.requests[1].body["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "user"]
    assert follow_up[1]["content"] == "I think the sentiment is positive"
    assert all(name in follow_up[2]["content"] for name in LABELS)


def test_a_label_outside_the_label_space_is_unparseable(server: FakeLLMServer) -> None:
    server.responder = lambda _body: Reply("mixed")
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    error = caught.value
    assert error.reason == "unparseable_answer"
    assert error.raw_answer == "mixed"
    assert error.usage.calls == 2 and len(server.requests) == 2
    assert error.usage.input_tokens == 100


def test_401_fails_at_once_without_retries(server: FakeLLMServer) -> None:
    server.responder = lambda _body: Reply(status=401)
    sleeps: list[float] = []
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server, sleeps=sleeps))
    assert caught.value.reason == "http_401"
    assert "401" in str(caught.value)
    assert sleeps == [] and len(server.requests) == 1


def test_the_api_key_never_reaches_logs_or_errors(server: FakeLLMServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    echo = f'{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}'.encode()
    server.script = [Reply(status=500, body=echo), Reply(status=401, body=echo)]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.context)
    assert caplog.records, "expected the retry to be logged"
    assert KEY not in caplog.text
    assert all(KEY not in str(r.args) for r in caplog.records)


def test_bad_json_on_200_is_a_bad_response(openai_server: FakeLLMServer) -> None:
    openai_server.script = [Reply(body=b"<html>gateway</html>")]
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(openai_server))
    assert caught.value.reason == "bad_response" and len(openai_server.requests) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    from tests.unit.llm.llm_servers import running

    with running() as srv:
        dead_url = srv.base_url
    backend = OpenAIBackend(model="m", base_url=dead_url, timeout_s=2.0)

    async def no_wait(_seconds: float) -> None:
        return None

    teacher = Teacher(backend, policy=RetryPolicy(2, 0.01, 1.0), sleep=no_wait)
    with pytest.raises(TeacherError) as caught:
        label(teacher)
    assert caught.value.reason == "connection_error"
    assert caught.value.usage.retries == 2


def test_request_extra_is_merged_and_null_removes_keys(openai_server: FakeLLMServer) -> None:
    backend = OpenAIBackend(model="m", base_url=openai_server.base_url,
                            extra={"max_tokens": None, "max_completion_tokens": 16, "seed": 7})
    label(Teacher(backend))
    body = openai_server.requests[0].body
    assert "max_tokens" not in body
    assert (body["max_completion_tokens"], body["seed"]) == (16, 7)
    assert "authorization" not in openai_server.requests[0].headers


def test_anthropic_base_url_may_end_in_v1() -> None:
    from tracer_stream.llm.anthropic import messages_url

    assert messages_url(None) == "https://api.anthropic.com/v1/messages"
    assert messages_url("http://proxy:8080/v1/") == "http://proxy:8080/v1/messages"


def test_garbled_usage_counts_as_zero_tokens(server: FakeLLMServer) -> None:
    usage = ({"prompt_tokens": "n/a", "completion_tokens": None} if server.protocol == "openai"
             else {"input_tokens": "n/a"})
    body = server.render(Reply("neutral")).decode().replace(
        '"usage": ', f'"usage": {json.dumps(usage)}, "ignored": ', 1)
    server.script = [Reply(body=body.encode())]
    answer = label(make_teacher(server))
    assert answer.label == "neutral"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (0, 0)
