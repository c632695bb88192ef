"""The traces-needed forecast of a closed gate (``learn/forecast.py``, ``traces_to_certify``)."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.learn.forecast import FORECAST_REASONS, traces_to_certify
from tracer_stream.learn.gate import NEG_INF, certify, p_value, threshold_grid

pytestmark = pytest.mark.unit

ONE = np.array([NEG_INF])  # one threshold: accept everything


def _counts(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    errors = np.zeros(n, dtype=bool)
    errors[:k] = True
    return np.ones(n), errors


def _first_opening(n: int, k: int, rate: float, alpha: float, rng: np.random.Generator,
                   futures: int = 400, horizon: int = 5000) -> np.ndarray:
    """Where a one-threshold gate first opens when n observed items (k disagreeing) grow by
    draws at ``rate``: the truth the forecast is checked against."""
    more = np.arange(1, horizon + 1)
    grown_k = k + np.cumsum(rng.random((futures, horizon)) < rate, axis=1)
    opened = p_value(grown_k, n + more[None, :], alpha) <= 0.05
    return np.where(opened.any(axis=1), more[opened.argmax(axis=1)], np.inf)


def test_a_clean_sample_gets_a_number_of_the_right_size():
    # 100 items, none disagreeing, α = 0.98: n_min = 149, so ≈ 49 more if the rate stays ~0
    rng = np.random.default_rng(0)
    f = traces_to_certify(*_counts(100, 0), ONE, alpha=0.98, delta=0.05, n_cal=100)
    assert f.reason is None and f.more is not None
    assert f.low is not None and f.high is not None and f.low <= f.more <= f.high
    truth = np.median(_first_opening(100, 0, 0.003, 0.98, rng))
    assert truth / 2 <= f.more <= 2 * truth


def test_more_disagreement_never_needs_fewer_traces():
    ranges = []
    for k in (0, 1, 2):
        f = traces_to_certify(*_counts(120, k), ONE, alpha=0.98, delta=0.05, n_cal=120)
        ranges.append((f.low or np.inf, f.high or np.inf))
    lows, highs = zip(*ranges, strict=True)
    assert list(lows) == sorted(lows) and list(highs) == sorted(highs)
    assert lows[0] < lows[2]


def test_a_teacher_noisier_than_alpha_allows_gets_no_number():
    rng = np.random.default_rng(1)
    for n in (150, 600, 3000):
        scores = rng.random(n)
        errors = rng.random(n) < 0.05  # 5% everywhere; α = 0.98 wants < 2%
        f = traces_to_certify(scores, errors, threshold_grid(rng.random(1000)), alpha=0.98,
                              delta=0.05, n_cal=n)
        assert f.more is None and f.reason in FORECAST_REASONS
    assert f.reason == "agreement_below_target"  # at 3,000 the data say so


def test_too_early_to_tell_rather_than_below_target_on_a_small_sample():
    # 60 items, 2 disagreeing (3.3%) at α = 0.98: the rate could well be under 2% — an exact
    # test needs 149 items at least, so there is no telling yet
    f = traces_to_certify(*_counts(60, 2), ONE, alpha=0.98, delta=0.05, n_cal=60)
    assert f.more is None and f.reason == "too_early_to_tell"


def test_a_sub_population_answer_is_scaled_to_the_whole_stream():
    s, e = _counts(100, 0)
    alone = traces_to_certify(s, e, ONE, alpha=0.98, delta=0.05, n_cal=100)
    half = traces_to_certify(s, e, ONE, alpha=0.98, delta=0.05, n_cal=200)
    assert alone.more is not None and half.more is not None
    assert half.more == pytest.approx(2 * alone.more, rel=0.02)


def test_the_forecast_is_deterministic_and_the_fallback_plan_forecasts_too():
    s, e = _counts(100, 0)
    assert (traces_to_certify(s, e, ONE, alpha=0.98, delta=0.05, n_cal=100)
            == traces_to_certify(s, e, ONE, alpha=0.98, delta=0.05, n_cal=100))
    fb = traces_to_certify(s, e, ONE, alpha=0.98, delta=0.05, n_cal=100, plan="fallback")
    assert fb.more is not None and fb.more > 0


def test_a_closed_gate_without_a_number_says_why_in_the_forecast_vocabulary():
    rng = np.random.default_rng(3)
    scores = rng.random(400)
    errors = rng.random(400) < 0.03  # α = 0.98: not certifiable, and too few items to be sure
    res = certify(scores, errors, threshold_grid(rng.random(1000)), alpha=0.98, delta=0.05)
    assert not res.certified
    if res.traces_needed is None:
        assert res.reason in FORECAST_REASONS
    else:
        assert res.reason in ("too_few_accepted", "insufficient_evidence")


def test_without_the_forecast_a_closed_gate_keeps_its_reason_and_gives_no_number():
    rng = np.random.default_rng(4)
    scores = rng.random(300)
    errors = rng.random(300) < 0.1 * (1 - scores)
    grid = threshold_grid(rng.random(1000))
    full = certify(scores, errors, grid, alpha=0.98, delta=0.05)
    bare = certify(scores, errors, grid, alpha=0.98, delta=0.05, forecast=False)
    assert not full.certified and not bare.certified
    assert bare.traces_needed is None and bare.traces_low is None
    assert bare.reason in ("too_few_accepted", "insufficient_evidence")
