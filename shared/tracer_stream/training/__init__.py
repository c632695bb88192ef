"""The trainer's library: the columnar trace snapshot, calibration rules, δ-spending, gated refits,
publication, the live guarantee monitor and drift detection. ``docs/trainer.md`` explains the
rules; ``tracer_stream_trainer`` wires them into a faust app.

The names below are imported from their modules on first use, so a command that only reads the
trainer's state (``tracer-stream status``) runs without the ``trainer`` extra (pyarrow, river).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracer_stream.training.calibration import calibration_eligible, calibration_mask
    from tracer_stream.training.drift import DriftWatch
    from tracer_stream.training.live_guard import LiveGuard, Watch
    from tracer_stream.training.publish import Announcer, close_gate, make_current
    from tracer_stream.training.snapshot import StoredTrace, TraceSnapshot
    from tracer_stream.training.state import TrainerState
    from tracer_stream.training.table import TraceTable, read_after

_MODULES = {
    "Announcer": "publish",
    "DriftWatch": "drift",
    "LiveGuard": "live_guard",
    "StoredTrace": "snapshot",
    "TraceSnapshot": "snapshot",
    "TraceTable": "table",
    "TrainerState": "state",
    "Watch": "live_guard",
    "calibration_eligible": "calibration",
    "calibration_mask": "calibration",
    "close_gate": "publish",
    "make_current": "publish",
    "read_after": "table",
}

__all__ = [
    "Announcer",
    "DriftWatch",
    "LiveGuard",
    "StoredTrace",
    "TraceSnapshot",
    "TraceTable",
    "TrainerState",
    "Watch",
    "calibration_eligible",
    "calibration_mask",
    "close_gate",
    "make_current",
    "read_after",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
