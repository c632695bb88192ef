"""Calibration eligibility and the stable partition (δ-spending: see test_refit)."""

from __future__ import annotations

import numpy as np

from tracer_stream.training import calibration_eligible, calibration_mask
from tracer_stream.training.calibration import calibration_rows


def test_audit_traces_and_unserved_traces_are_eligible() -> None:
    audit = np.array([True, True, False, False])
    versions = ["v1", None, "v1", None]
    assert calibration_eligible(audit, versions).tolist() == [True, True, False, True]


def test_partition_is_stable_whatever_else_is_in_the_batch() -> None:
    ids = [f"req-{i}" for i in range(4000)]
    audit = np.zeros(4000, dtype=bool)
    never_served = [None] * 4000
    full = calibration_mask(ids, audit, never_served, 0.3)
    later = calibration_mask(ids[::7], audit[::7], never_served[::7], 0.3)
    assert np.array_equal(full[::7], later)
    assert 0.27 < full.mean() < 0.33


def test_deferred_traces_of_a_serving_model_never_calibrate() -> None:
    ids = [f"req-{i}" for i in range(1000)]
    mask = calibration_mask(ids, np.zeros(1000, dtype=bool), ["v3"] * 1000, 0.5)
    assert not mask.any()
    assert calibration_mask([], np.zeros(0, dtype=bool), [], 0.3).tolist() == []



def test_traces_deferred_for_a_task_level_reason_are_eligible() -> None:
    reasons = ["gate_closed", "below_threshold", "novel_input", "no_model", "surrogate_error",
               None]
    n = len(reasons)
    eligible = calibration_eligible(np.zeros(n, dtype=bool), ["v2"] * n, reasons)
    assert eligible.tolist() == [True, False, False, True, False, False]


def test_an_epoch_keeps_only_the_held_out_traces_stored_since_its_start() -> None:
    ids = [f"req-{i}" for i in range(1000)]
    held_out = calibration_mask(ids, np.ones(1000, dtype=bool), ["v1"] * 1000, 0.3)
    seq = np.arange(1, 1001)
    rows = calibration_rows(held_out, seq, 601)
    assert not rows[:600].any() and np.array_equal(rows[600:], held_out[600:])
    assert np.array_equal(calibration_rows(held_out, seq, 1), held_out)
