"""docs/reasons.md lists exactly the reasons of contracts/reasons.py, each once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracer_stream.contracts.reasons import WHOLE_TASK, DeadLetterReason, DeferReason, GateReason
from tracer_stream.learn.forecast import FORECAST_REASONS
from tracer_stream.report import GATE_REASONS

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "reasons.md"
_ROW = re.compile(r"^\| `([a-z_]+)` \|", re.MULTILINE)


def _sections() -> tuple[list[str], list[str], list[str]]:
    text = DOC.read_text()
    deferred, rest = text.split("## Dead letters", 1)
    dead, gate = rest.split("## Closed gates", 1)
    return _ROW.findall(deferred), _ROW.findall(dead), _ROW.findall(gate)


def test_every_defer_reason_is_documented_once():
    deferred, _, _ = _sections()
    assert sorted(deferred) == sorted(r.value for r in DeferReason)


def test_every_dead_letter_reason_is_documented_once():
    _, dead, _ = _sections()
    assert sorted(dead) == sorted(r.value for r in DeadLetterReason)


def test_the_whole_task_table_is_the_whole_task_set():
    text = DOC.read_text()
    whole = text.split("Decided per request:", 1)[0]
    assert set(_ROW.findall(whole)) == {r.value for r in WHOLE_TASK}


def test_every_gate_reason_is_documented_once_and_explained():
    _, _, gate = _sections()
    assert sorted(gate) == sorted(r.value for r in GateReason)
    assert set(GATE_REASONS) == {r.value for r in GateReason}


def test_the_forecast_refuses_only_with_gate_reasons():
    assert set(FORECAST_REASONS) <= {r.value for r in GateReason}
