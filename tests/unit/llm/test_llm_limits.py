"""Client-side rate limit (aiolimiter) and the connection pool: the teacher adds no queue of
its own, the pool is the only bound. Checked by counting and by the order requests reached
the server (lower bounds only, no performance figures)."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.llm.llm_servers import FakeLLMServer, Reply
from tracer_stream.llm import Backoff, ClientSettings, OpenAIBackend, Teacher
from tracer_stream.llm.sdk import Transport, rate_limiter

LABELS = ("positive", "negative")


def run_concurrently(server: FakeLLMServer, calls: int, **settings: object) -> None:
    client = ClientSettings(base_url=server.base_url, **settings)  # type: ignore[arg-type]
    teacher = Teacher(OpenAIBackend(model="m", client=client))

    async def go() -> None:
        try:
            await asyncio.gather(*(teacher.label("Classify.", LABELS, text=f"t{i}")
                                   for i in range(calls)))
        finally:
            await teacher.aclose()

    asyncio.run(go())


def test_no_rate_limit_when_the_setting_is_zero() -> None:
    assert rate_limiter(0.0) is None
    limiter = rate_limiter(4.0)
    assert limiter is not None and limiter.max_rate == 1 and limiter.time_period == 0.25


def test_the_rate_limit_spaces_requests(openai_server: FakeLLMServer) -> None:
    run_concurrently(openai_server, 6, limiter=rate_limiter(5.0), max_connections=8)
    arrivals = [r.at for r in openai_server.requests]
    assert len(arrivals) == 6
    # 5 gaps of at least 1/5 s each (the first request goes at once)
    assert arrivals[-1] - arrivals[0] >= 0.9


def test_retries_also_wait_for_the_rate_limit(openai_server: FakeLLMServer) -> None:
    openai_server.script = [Reply(status=500), Reply(status=500)]
    run_concurrently(openai_server, 1, limiter=rate_limiter(4.0),
                     backoff=Backoff(0.0001, 0.001))
    first, _, third = openai_server.requests
    assert third.at - first.at >= 0.45  # two gaps of 1/4 s, not the 1 ms backoff


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_the_teacher_adds_no_queue_of_its_own(openai_server: FakeLLMServer,
                                             transport: Transport) -> None:
    openai_server.responder = lambda _body: Reply("positive", delay_s=0.5)
    run_concurrently(openai_server, 8, max_connections=8, transport=transport)
    assert len(openai_server.requests) == 8
    assert openai_server.max_in_flight == 8


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_the_connection_pool_bounds_calls_in_flight(openai_server: FakeLLMServer,
                                                    transport: Transport) -> None:
    openai_server.responder = lambda _body: Reply("positive", delay_s=0.1)
    run_concurrently(openai_server, 8, max_connections=2, transport=transport)
    assert len(openai_server.requests) == 8
    assert openai_server.max_in_flight <= 2
