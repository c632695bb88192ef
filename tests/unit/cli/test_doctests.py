"""The examples in the docstrings of the operator-facing modules run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytestmark = pytest.mark.unit

MODULES = ["tracer_stream.cli._reach", "tracer_stream.cli.status",
           "tracer_stream.offline.summary", "tracer_stream.routing.batch",
           "tracer_stream.demo.run"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
