"""The examples in the demo modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from tracer_stream.demo import ledger, noise, svg, workload


@pytest.mark.parametrize("module", [ledger, noise, svg, workload], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
