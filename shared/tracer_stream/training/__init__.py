"""The trainer's library: the columnar trace snapshot, calibration rules, δ-spending, gated refits,
publication, the live guarantee monitor and drift detection. ``docs/trainer.md`` explains the
rules; ``tracer_stream_trainer`` wires them into a faust app."""

from tracer_stream.training.calibration import calibration_eligible, calibration_mask
from tracer_stream.training.drift import DriftWatch
from tracer_stream.training.live_guard import LiveGuard, Watch
from tracer_stream.training.publish import Announcer, close_gate, make_current
from tracer_stream.training.snapshot import StoredTrace, TraceSnapshot
from tracer_stream.training.state import TrainerState
from tracer_stream.training.table import TraceTable, read_after

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
