"""calibration_partition: stable, id-local, about the requested share."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.errors import LearnError
from tracer_stream.learn import calibration_partition

pytestmark = pytest.mark.unit


def test_assignment_is_fixed_and_independent_of_other_ids():
    ids = [f"req-{i}" for i in range(5000)]
    full = calibration_partition(ids)
    assert calibration_partition(ids[::-1])[::-1].tolist() == full.tolist()
    assert calibration_partition(ids[100:200]).tolist() == full[100:200].tolist()
    assert abs(full.mean() - 0.3) < 0.03


def test_fraction_and_salt():
    ids = [str(i) for i in range(5000)]
    small = calibration_partition(ids, fraction=0.1)
    large = calibration_partition(ids, fraction=0.5)
    assert not (small & ~large).any()  # nested: raising the fraction only adds ids
    assert not np.array_equal(calibration_partition(ids, salt="other"), large)
    with pytest.raises(LearnError):
        calibration_partition(ids, fraction=1.0)
