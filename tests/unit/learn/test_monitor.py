"""LiveMonitor: alarm rate under parity ≤ δ, detection when parity breaks, confidence sequence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from tracer_stream.errors import LearnError
from tracer_stream.learn import LiveMonitor

pytestmark = pytest.mark.unit


def _run(rate: float, n: int, rng: np.random.Generator) -> LiveMonitor:
    m = LiveMonitor(alpha=0.95, delta=0.05)
    for x in rng.random(n) < rate:
        m.update(bool(x))
    return m


@pytest.mark.slow
def test_false_alarms_under_parity_stay_below_delta():
    rng = np.random.default_rng(0)
    streams = 150
    alarms = sum(_run(0.05, 300, rng).alarm for _ in range(streams))  # at the boundary
    assert alarms <= binom.ppf(0.999, streams, 0.05)


def test_detects_a_broken_target():
    rng = np.random.default_rng(1)
    m = _run(0.15, 400, rng)
    assert m.alarm and m.wealth >= 20
    assert m.confidence_interval[1] < 0.95  # the whole sequence says agreement is below target


@pytest.mark.slow
def test_confidence_sequence_covers_the_truth():
    rng = np.random.default_rng(2)
    misses = 0
    for _ in range(100):
        m = _run(0.03, 300, rng)
        lo, hi = m.confidence_interval
        misses += not (lo <= 0.97 <= hi)
        assert lo <= m.agreement <= hi
    assert misses <= binom.ppf(0.999, 100, 0.05)


def test_alarm_is_sticky_and_state_round_trips():
    m = _run(0.3, 100, np.random.default_rng(3))
    assert m.alarm
    for _ in range(500):
        m.update(False)
    assert m.alarm
    clone = LiveMonitor.from_dict(m.to_dict())
    assert clone.alarm and clone.n == m.n and clone.agreement == m.agreement
    assert clone.wealth == pytest.approx(m.wealth)
    assert clone.confidence_interval == m.confidence_interval


def test_empty_monitor_and_bad_parameters():
    m = LiveMonitor()
    assert m.n == 0 and not m.alarm and np.isnan(m.agreement)
    assert m.confidence_interval[0] <= 0.01 and m.confidence_interval[1] >= 0.99
    with pytest.raises(LearnError):
        LiveMonitor(alpha=1.5)


@pytest.mark.parametrize("stop", [False, True])
def test_update_many_matches_one_by_one(stop: bool):
    rng = np.random.default_rng(7)
    flags = rng.random(400) < 0.12
    one = LiveMonitor(alpha=0.95, delta=0.05, confidence_sequence=False)
    used_one = 0
    for x in flags:
        one.update(bool(x))
        used_one += 1
        if stop and one.alarm:
            break
    many = LiveMonitor(alpha=0.95, delta=0.05, confidence_sequence=False)
    used = 0
    for chunk in np.array_split(flags, 7):  # batches, as a router sees them
        if stop and many.alarm:
            break
        used += many.update_many(chunk, stop_at_alarm=stop)
    assert one.alarm and many.alarm
    assert (used, many.n, many.disagreements) == (used_one, one.n, one.disagreements)
    assert many.wealth == pytest.approx(one.wealth)
    assert LiveMonitor.from_dict(many.to_dict()).wealth == pytest.approx(many.wealth)
