"""Fixtures of the LLM unit tests: a real local server per protocol."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.llm.llm_servers import FakeLLMServer, running


@pytest.fixture(params=["openai", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with running(request.param) as srv:
        yield srv


@pytest.fixture
def openai_server() -> Iterator[FakeLLMServer]:
    with running("openai") as srv:
        yield srv
