"""The examples in the learning core's docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

from tracer_stream.learn import gate, monitor, partition

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("module", [gate, monitor, partition], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
