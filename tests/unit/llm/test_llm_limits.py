"""Rate limit and concurrency bound, checked by counting (no wall-clock assertions)."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.llm.llm_servers import FakeLLMServer, Reply
from tracer_stream.llm import OpenAIBackend, Teacher, TokenBucket

LABELS = ("positive", "negative")


def test_token_bucket_spaces_calls_at_the_configured_rate() -> None:
    waits: list[float] = []
    now = [0.0]

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    bucket = TokenBucket(4.0, burst=2.0, clock=lambda: now[0], sleep=fake_sleep)

    async def go() -> list[float]:
        got = [await bucket.acquire() for _ in range(4)]
        now[0] = 10.0
        got.append(await bucket.acquire())
        return got

    assert asyncio.run(go()) == [0.0, 0.0, 0.25, 0.5, 0.0]
    assert waits == [0.25, 0.5]


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1.0, burst=0.5)


def test_the_teacher_honours_the_rate_limit(openai_server: FakeLLMServer) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = TokenBucket(5.0, clock=lambda: 100.0, sleep=fake_sleep)
    backend = OpenAIBackend(model="m", base_url=openai_server.base_url)
    teacher = Teacher(backend, limiter=limiter, max_concurrency=8)

    async def go() -> None:
        await asyncio.gather(*(teacher.label(f"t{i}", LABELS) for i in range(6)))
        await teacher.aclose()

    asyncio.run(go())
    assert len(openai_server.requests) == 6
    assert waits == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_at_most_max_concurrency_calls_are_in_flight(openai_server: FakeLLMServer) -> None:
    openai_server.responder = lambda _body: Reply("positive", delay_s=0.1)
    backend = OpenAIBackend(model="m", base_url=openai_server.base_url)
    teacher = Teacher(backend, max_concurrency=2)

    async def go() -> None:
        await asyncio.gather(*(teacher.label(f"t{i}", LABELS) for i in range(8)))
        await teacher.aclose()

    asyncio.run(go())
    assert len(openai_server.requests) == 8
    assert openai_server.max_in_flight <= 2
