"""The examples in the docstrings of the reply-topic check, the secret masking, the settings
and the client's reply inbox run and print what they say."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from tracer_stream.bus import reply_topics
from tracer_stream.client import inbox
from tracer_stream.config import secrets, settings


@pytest.mark.parametrize("module", [reply_topics, secrets, settings, inbox],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
