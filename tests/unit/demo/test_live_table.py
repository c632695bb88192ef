"""The demo's day table: a day whose gate the live monitor closed is not "no model yet"."""

from __future__ import annotations

from rich.console import Console

from tracer_stream.demo.ledger import DayStats
from tracer_stream.demo.live import ViewContext, day_table


def _render(stats: DayStats) -> str:
    console = Console(width=200, record=True)
    console.print(day_table([stats], ViewContext(task="t", alpha=0.95, delta=0.05,
                                                 cost_per_call=0.001, certificates={})))
    return console.export_text()


def test_a_closed_gate_is_not_shown_as_no_model() -> None:
    closed = DayStats(day=3, sent=100, answered=100, deferred=100)
    closed.reasons["gate_closed"] = 100
    cold = DayStats(day=1, sent=100, answered=100, deferred=100)
    cold.reasons["no_model"] = 100
    assert "gate closed" in _render(closed) and "no model yet" not in _render(closed)
    assert "no model yet" in _render(cold)
