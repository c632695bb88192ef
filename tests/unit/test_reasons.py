"""docs/reasons.md lists exactly the reasons of contracts/reasons.py, each once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracer_stream.contracts.reasons import WHOLE_TASK, DeadLetterReason, DeferReason

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "reasons.md"
_ROW = re.compile(r"^\| `([a-z_]+)` \|", re.MULTILINE)


def _sections() -> tuple[list[str], list[str]]:
    text = DOC.read_text()
    deferred, dead = text.split("## Dead letters", 1)
    return _ROW.findall(deferred), _ROW.findall(dead)


def test_every_defer_reason_is_documented_once():
    deferred, _ = _sections()
    assert sorted(deferred) == sorted(r.value for r in DeferReason)


def test_every_dead_letter_reason_is_documented_once():
    _, dead = _sections()
    assert sorted(dead) == sorted(r.value for r in DeadLetterReason)


def test_the_whole_task_table_is_the_whole_task_set():
    text = DOC.read_text()
    whole = text.split("Decided per request:", 1)[0]
    assert set(_ROW.findall(whole)) == {r.value for r in WHOLE_TASK}
