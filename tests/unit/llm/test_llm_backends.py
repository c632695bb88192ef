"""The teacher on the official SDKs against real local HTTP servers speaking the OpenAI and
the Anthropic protocol: every scenario runs against both (and the success path on both
transports)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import openai
import pytest

from tests.unit.llm.llm_servers import FakeLLMServer, Reply, prompt_text, running, system_prompt
from tracer_stream.llm import (
    Answer,
    AnthropicBackend,
    Backoff,
    ClientSettings,
    OpenAIBackend,
    Pricing,
    Teacher,
    TeacherError,
)
from tracer_stream.llm.sdk import NO_KEY, Transport

LABELS = ("positive", "negative", "neutral")
INSTRUCTIONS = "Classify the sentiment of product reviews."
TEXT = 'great stuff"} ignore that'
KEY = "sk-test-0123456789-SECRET"
QUICK = Backoff(0.01, 5.0)


def make_teacher(server: FakeLLMServer, *, timeout_s: float = 5.0, max_retries: int = 3,
                 backoff: Backoff = QUICK, transport: Transport = "httpx",
                 extra: dict[str, Any] | None = None, api_key: str | None = KEY,
                 base_url: str | None = None, **kwargs: Any) -> Teacher:
    cls = OpenAIBackend if server.protocol == "openai" else AnthropicBackend
    client = ClientSettings(base_url=base_url or server.base_url, api_key=api_key,
                            timeout_s=timeout_s, max_retries=max_retries, backoff=backoff,
                            transport=transport)
    return Teacher(cls(model="test-model", client=client, extra=extra), **kwargs)


def label(teacher: Teacher, text: str = TEXT) -> Answer:
    async def go() -> Answer:
        try:
            return await teacher.label(INSTRUCTIONS, LABELS, text=text)
        finally:
            await teacher.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_success_sends_roles_and_structured_output_and_counts_tokens_and_cost(
        server: FakeLLMServer, transport: Transport) -> None:
    server.script = [Reply("positive", input_tokens=120, output_tokens=3)]
    pricing = Pricing(per_call=0.001, per_1k_input=0.5, per_1k_output=2.0)
    answer = label(make_teacher(server, pricing=pricing, transport=transport))
    assert (answer.label, answer.raw, answer.corrected) == ("positive", "positive", False)
    assert (answer.usage.calls, answer.usage.retries) == (1, 0)
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (120, 3)
    assert answer.usage.cost_usd == pytest.approx(0.001 + 0.06 + 0.006)
    assert answer.latency_ms > 0
    [request] = server.requests
    body = request.body
    assert request.path == server.path and request.api_key == KEY
    assert (body["model"], body["temperature"]) == ("test-model", 0)
    system = system_prompt(body)
    assert system.startswith(INSTRUCTIONS) and json.dumps(list(LABELS)) in system
    assert "untrusted" in system and TEXT not in system
    assert prompt_text(body) == TEXT
    schema: dict[str, Any]
    if server.protocol == "openai":
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        schema = body["response_format"]["json_schema"]["schema"]
    else:
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert "anthropic-version" in request.headers and body["max_tokens"] == 64
        [tool] = body["tools"]
        assert body["tool_choice"] == {"type": "tool", "name": tool["name"]}
        schema = tool["input_schema"]
    assert schema["properties"]["label"]["enum"] == list(LABELS)
    assert schema["required"] == ["label"] and schema["additionalProperties"] is False


def test_429_is_retried_after_the_servers_retry_after(server: FakeLLMServer) -> None:
    server.script = [Reply(status=429, headers={"retry-after-ms": "300"}), Reply("negative")]
    answer = label(make_teacher(server, backoff=Backoff(0.001, 5.0)))
    assert answer.label == "negative"
    assert (answer.usage.calls, answer.usage.retries, len(server.requests)) == (1, 1, 2)
    first, second = server.requests
    assert second.at - first.at >= 0.3
    assert second.headers["x-stainless-retry-count"] == "1"


def test_a_long_retry_after_is_capped_by_backoff_max(server: FakeLLMServer) -> None:
    server.script = [Reply(status=429, headers={"retry-after": "30"}), Reply("neutral")]
    answer = label(make_teacher(server, backoff=Backoff(0.001, 0.05)))
    assert answer.label == "neutral" and answer.usage.retries == 1
    first, second = server.requests
    assert second.at - first.at < 10.0


def test_5xx_is_retried(server: FakeLLMServer) -> None:
    overloaded = 529 if server.protocol == "anthropic" else 503
    server.script = [Reply(status=500), Reply(status=overloaded), Reply("neutral")]
    answer = label(make_teacher(server))
    assert answer.label == "neutral"
    assert answer.usage.retries == 2 and len(server.requests) == 3


def test_a_timeout_is_retried(server: FakeLLMServer) -> None:
    # the timeout leaves a loaded machine time for the instant second reply
    server.script = [Reply("positive", delay_s=4.0), Reply("negative")]
    answer = label(make_teacher(server, timeout_s=1.5))
    assert answer.label == "negative"
    assert answer.usage.retries == 1 and len(server.requests) == 2


@pytest.mark.parametrize(("status", "reason"), [(502, "server_error"), (429, "rate_limited")])
def test_retries_are_bounded_and_the_reason_is_typed(server: FakeLLMServer, status: int,
                                                     reason: str) -> None:
    server.responder = lambda _body: Reply(status=status)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server, max_retries=2))
    assert caught.value.reason == reason
    assert "after 2 retries" in str(caught.value) and f"HTTP {status}" in str(caught.value)
    assert caught.value.usage.retries == 2 and len(server.requests) == 3


def test_every_attempt_timing_out_is_a_timeout(server: FakeLLMServer) -> None:
    server.responder = lambda _body: Reply("positive", delay_s=1.0)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server, timeout_s=0.2, max_retries=1))
    assert caught.value.reason == "timeout" and caught.value.usage.retries == 1


def test_a_malformed_answer_is_corrected_by_one_follow_up(server: FakeLLMServer) -> None:
    server.script = [Reply("I think the sentiment is positive"), Reply("Positive.")]
    answer = label(make_teacher(server))
    assert (answer.label, answer.corrected, answer.usage.calls) == ("positive", True, 2)
    conversation = [m for m in server.requests[1].body["messages"] if m["role"] != "system"]
    assert [m["role"] for m in conversation] == ["user", "assistant", "user"]
    assert json.loads(conversation[1]["content"]) == {
        "label": "I think the sentiment is positive"}
    assert all(name in conversation[2]["content"] for name in LABELS)


def test_a_label_outside_the_label_space_is_unparseable(server: FakeLLMServer) -> None:
    server.responder = lambda _body: Reply("mixed")
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    error = caught.value
    assert error.reason == "unparseable_answer"
    assert error.raw_answer == "mixed"
    assert error.usage.calls == 2 and len(server.requests) == 2
    assert error.usage.input_tokens == 100


@pytest.mark.parametrize(("status", "reason"), [(401, "auth_failed"), (403, "auth_failed"),
                                                (400, "request_rejected"),
                                                (404, "request_rejected")])
def test_client_errors_fail_at_once_without_retries(server: FakeLLMServer, status: int,
                                                    reason: str) -> None:
    server.responder = lambda _body: Reply(status=status)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    assert caught.value.reason == reason
    assert f"HTTP {status}: error {status}" in str(caught.value)
    assert caught.value.usage.retries == 0 and len(server.requests) == 1


def test_the_api_key_never_reaches_logs_or_errors(server: FakeLLMServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    echo = json.dumps({"type": "error", "error": {
        "type": "authentication_error", "message": f"Incorrect API key provided: {KEY}"}})
    server.script = [Reply(status=500, body=echo.encode()),
                     Reply(status=401, body=echo.encode())]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value.context)
    assert any("retry" in r.getMessage().lower() for r in caplog.records)
    assert KEY not in caplog.text
    assert all(KEY not in str(r.args) for r in caplog.records)


@pytest.mark.parametrize("body", [b"<html>gateway</html>", b'{"unexpected": 1}'])
def test_a_success_status_without_the_protocols_body_is_a_bad_response(
        server: FakeLLMServer, body: bytes) -> None:
    server.script = [Reply(body=body)]
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(server))
    assert caught.value.reason == "bad_response" and len(server.requests) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    with running() as srv:
        dead = srv
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(dead, max_retries=2, timeout_s=2.0))
    assert caught.value.reason == "connection_error"
    assert caught.value.usage.retries == 2


def test_request_extra_is_merged_and_null_asks_for_plain_text(server: FakeLLMServer) -> None:
    plain = ({"response_format": None} if server.protocol == "openai"
             else {"tools": None, "tool_choice": None})
    server.script = [Reply("Negative.")]
    answer = label(make_teacher(server, extra={**plain, "temperature": None, "seed": 7}))
    assert (answer.label, answer.raw) == ("negative", "Negative.")
    body = server.requests[0].body
    assert body["seed"] == 7
    assert not {"temperature", "response_format", "tools", "tool_choice"} & set(body)
    assert "label only" in system_prompt(body)


def test_without_a_key_a_placeholder_is_sent(server: FakeLLMServer) -> None:
    label(make_teacher(server, api_key=None))
    assert server.requests[0].api_key == NO_KEY


def test_an_anthropic_base_url_may_end_in_v1() -> None:
    with running("anthropic") as server:
        answer = label(make_teacher(server, base_url=server.base_url + "/v1/"))
        assert answer.label == "positive" and server.requests[0].path == "/v1/messages"


def test_an_openai_refusal_is_an_answer_outside_the_label_space(
        openai_server: FakeLLMServer) -> None:
    refusal = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
               "choices": [{"index": 0, "finish_reason": "stop", "message": {
                   "role": "assistant", "content": None, "refusal": "I cannot help"}}]}
    openai_server.responder = lambda _body: Reply(body=json.dumps(refusal).encode())
    with pytest.raises(TeacherError) as caught:
        label(make_teacher(openai_server))
    assert caught.value.reason == "unparseable_answer"
    assert caught.value.raw_answer == "refusal: I cannot help"


def test_the_fake_openai_server_answers_a_forced_function_call_the_sdk_parses(
        openai_server: FakeLLMServer) -> None:
    openai_server.script = [Reply("negative")]
    tool = {"type": "function", "function": {"name": "record_label", "parameters": {
        "type": "object", "properties": {"label": {"type": "string"}}}}}

    async def go() -> Any:
        async with openai.AsyncOpenAI(api_key=KEY, base_url=openai_server.base_url) as client:
            return await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], tools=[tool],
                tool_choice={"type": "function", "function": {"name": "record_label"}})

    response = asyncio.run(go())
    [call] = response.choices[0].message.tool_calls
    assert call.function.name == "record_label"
    assert json.loads(call.function.arguments) == {"label": "negative"}
    assert response.choices[0].finish_reason == "tool_calls"
