"""The per-label forecast of the report: would a label's own exact test pass, and with how many?"""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.learn import n_min
from tracer_stream.report.analysis import forecast

pytestmark = pytest.mark.unit

ALPHA, DELTA = 0.9, 0.05


def _rows(n: int, errors_at_low_scores: int) -> tuple[np.ndarray, np.ndarray]:
    scores = np.linspace(1.0, 0.0, n)
    errors = np.zeros(n, dtype=bool)
    if errors_at_low_scores:
        errors[-errors_at_low_scores:] = True
    return scores, errors


def test_clean_label_with_enough_rows_is_ready() -> None:
    out = forecast(*_rows(200, 0), 1000, alpha=ALPHA, delta=DELTA)
    assert out["status"] == "ready" and out["more_traces"] == 0 and out["agreement"] == 1.0


def test_clean_label_with_few_rows_needs_the_test_minimum() -> None:
    rows = 10
    out = forecast(*_rows(rows, 0), 1000, alpha=ALPHA, delta=DELTA)
    need = n_min(ALPHA, DELTA)
    assert out["status"] == "needs_traces" and out["more_label_traces"] == need - rows
    assert out["more_traces"] == -(-(need - rows) * 1000 // rows)  # at the label's share


def test_errors_only_among_low_scores_still_leave_a_way() -> None:
    out = forecast(*_rows(40, 20), 1000, alpha=ALPHA, delta=DELTA)
    assert out["status"] == "needs_traces" and out["more_label_traces"] > 0


def test_all_wrong_is_below_target_or_too_little_data() -> None:
    assert forecast(*_rows(100, 100), 1000, alpha=ALPHA, delta=DELTA)["status"] == "below_target"
    few = forecast(*_rows(5, 5), 1000, alpha=ALPHA, delta=DELTA)
    assert few["status"] == "too_little_data"
    assert few["more_label_traces"] == n_min(ALPHA, DELTA) - 5


def test_no_rows_is_not_predicted() -> None:
    out = forecast(np.array([]), np.array([], dtype=bool), 10, alpha=ALPHA, delta=DELTA)
    assert out["status"] == "not_predicted"
