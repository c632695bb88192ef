"""Calibration eligibility and the stable partition (δ-spending: see test_refit)."""

from __future__ import annotations

import numpy as np

from tracer_stream.training import calibration_eligible, calibration_mask


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

