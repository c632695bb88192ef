"""LiveMonitor: false alarms ≤ δ under parity (also a moving null), detection that does not age,
a confidence sequence for the running mean that survives a change, state round trips."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from tracer_stream.errors import LearnError
from tracer_stream.learn import LiveMonitor, spend_delta
from tracer_stream.learn.monitor import (
    COMPONENTS,
    GATE,
    bets,
    deployment_delta,
    log_wealth_paths,
    suspicion_audit_rate,
    suspicion_log_paths,
)

pytestmark = pytest.mark.unit

LEVEL = np.log(1 / 0.05)


def _streams(rates: np.ndarray, runs: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((runs, rates.size)) < rates).astype(float)


def _first_alarm(flags: np.ndarray) -> np.ndarray:
    hit = log_wealth_paths(flags, 0.95) >= LEVEL
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)


@pytest.mark.parametrize("rates", [np.full(3000, 0.05),  # the boundary of the null
                                   np.tile([0.0] * 100 + [0.05] * 100, 15)],  # a moving null
                         ids=["boundary", "moving"])
def test_false_alarms_under_parity_stay_below_delta(rates: np.ndarray) -> None:
    runs = 400
    alarms = int(np.isfinite(_first_alarm(_streams(rates, runs, 0))).sum())
    assert alarms <= binom.ppf(0.999, runs, 0.05)


def test_detection_does_not_age() -> None:
    """Past the longest window (800 audits) the age no longer matters: a change after 8,000
    audited requests is caught about as fast as one after 1,000 (the old fixed bets needed
    ~10x longer at 8,000)."""
    delays = []
    for age, seed in ((1000, 1), (8000, 2)):
        first = _first_alarm(_streams(np.r_[np.full(age, 0.03), np.full(600, 0.25)], 200, seed))
        assert not (first <= age).any()                  # no alarm while the model is fine
        delays.append(np.median(first - age))
    assert delays[1] <= 1.25 * delays[0] + 5 and delays[1] < 100


def test_bets_are_predictable() -> None:
    flags = _streams(np.full(300, 0.2), 1, 3)
    flipped = flags.copy()
    flipped[0, 150] = 1 - flipped[0, 150]
    a, b = (bets(np.zeros((1, 0)), f, 0.05) for f in (flags, flipped))
    np.testing.assert_array_equal(a[..., :151], b[..., :151])  # the bet on x₁₅₀ ignores it
    assert (a >= 0).all() and (a * 0.05 <= 0.5 + 1e-12).all()


def test_detects_a_broken_target_and_reports_the_crossing() -> None:
    m = LiveMonitor(alpha=0.95, delta=0.05)
    used = m.update_many(_streams(np.full(400, 0.15), 1, 4)[0].astype(bool), stop_at_alarm=True)
    assert m.alarm and used == m.n == m.alarm_n < 400
    assert m.wealth_at_alarm == pytest.approx(m.wealth) and m.wealth >= 20
    assert m.confidence_interval[1] < 0.95 or m.n < 200


@pytest.mark.slow
def test_confidence_sequence_covers_the_running_mean_through_a_change() -> None:
    rates = np.r_[np.full(300, 0.03), np.full(300, 0.3)]
    running_mean = 1.0 - np.cumsum(rates) / np.arange(1, rates.size + 1)
    misses = 0
    for flags in _streams(rates, 200, 5).astype(bool):
        m = LiveMonitor(alpha=0.95, delta=0.05)
        missed = False
        for start in range(0, rates.size, 20):
            m.update_many(flags[start:start + 20])
            lo, hi = m.confidence_interval
            assert lo <= m.agreement <= hi
            missed |= not lo <= running_mean[m.n - 1] <= hi
        misses += missed
    assert misses <= binom.ppf(0.999, 200, 0.05)


def test_update_many_matches_one_by_one_and_state_round_trips() -> None:
    flags = _streams(np.full(900, 0.12), 1, 7)[0].astype(bool)
    one, many = LiveMonitor(), LiveMonitor()
    for x in flags:
        one.update(bool(x))
    for start in range(0, flags.size, 37):
        many.update_many(flags[start:start + 37])
    assert (one.n, one.disagreements, one.alarm_n) == (many.n, many.disagreements, many.alarm_n)
    assert one.wealth == pytest.approx(many.wealth)
    assert one.suspicion == pytest.approx(many.suspicion)
    clone = LiveMonitor.from_dict(many.to_dict())
    assert clone.alarm and clone.wealth_at_alarm == many.wealth_at_alarm
    clone.update_many(flags[:100])
    many.update_many(flags[:100])
    assert clone.wealth == pytest.approx(many.wealth) and clone.n == many.n
    assert clone.confidence_interval == many.confidence_interval


def test_alarm_is_sticky_and_an_older_state_is_refused() -> None:
    m = LiveMonitor()
    m.update_many([True] * 30)
    assert m.alarm
    m.update_many([False] * 2000)
    assert m.alarm
    with pytest.raises(LearnError):
        LiveMonitor.from_dict({"alpha": 0.95, "delta": 0.05, "n": 1})


def test_suspicion_is_a_cusum() -> None:
    flags = _streams(np.full(500, 0.1), 3, 8)
    eps = 0.05
    fast = suspicion_log_paths(flags, 0.95)
    for row, path in zip(flags, fast, strict=True):
        c, slow = 0.0, []
        for x in row:
            c = max(0.0, c + np.log1p((x - eps) / (1 - eps)))
            slow.append(c)
        np.testing.assert_allclose(path, slow, atol=1e-9)
    resumed = suspicion_log_paths(flags[:, 250:], 0.95, fast[:, 249])
    np.testing.assert_allclose(resumed, fast[:, 250:], atol=1e-9)


def test_suspicion_audit_rate_ramps_to_the_cap() -> None:
    rates = [suspicion_audit_rate(s, 0.02, 1.0) for s in np.geomspace(0.1, 1e6, 60)]
    assert rates == sorted(rates) and rates[0] == 0.02 and rates[-1] == 1.0
    assert suspicion_audit_rate(1.99, 0.02, 1.0) == 0.02      # no evidence: the base rate
    assert suspicion_audit_rate(2.0, 0.02, 1.0) == 0.16       # 2^RAMP: one disagreement
    assert suspicion_audit_rate(4.0, 0.02, 1.0) == 1.0        # every handled request
    assert suspicion_audit_rate(1e9, 0.02, 0.25) == 0.25      # a lower cap holds
    assert suspicion_audit_rate(1e9, 0.3, 0.25) == 0.3        # never below the base rate
    assert suspicion_audit_rate(1e9, 0.0, 1.0) == 0.0         # ρ = 0: nothing to multiply
    assert suspicion_audit_rate(3.0, 0.02, 1.0, ramp=1.0) == 0.04  # the earlier ramp


def test_deployment_budgets_sum_to_delta_and_decay_slower_than_the_gates() -> None:
    ks = np.arange(1, 200_001)
    spent = np.array([deployment_delta(0.05, int(k)) for k in ks])
    assert (np.diff(spent) < 0).all() and spent.sum() < 0.05
    assert spent.sum() == pytest.approx(0.05 * (1 - 1 / np.sqrt(ks[-1] + 1)))
    assert deployment_delta(0.05, 10) > 2 * spend_delta(0.05, 10)
    with pytest.raises(LearnError):
        deployment_delta(0.05, 0)


def test_gated_bets_wait_for_the_suspicion() -> None:
    flags = np.array([[1.0] * 3 + [0.0] * 200 + [1.0] * 6])
    lam = bets(np.zeros((1, 0)), flags, 0.05)
    log_s = suspicion_log_paths(flags, 0.95)
    before = np.r_[0.0, log_s[0, :-1]]
    for k, c in enumerate(COMPONENTS):
        if c.gate:
            assert (lam[k, 0][before < c.gate] == 0).all()
            assert (lam[k, 0][before >= c.gate] > 0).any()
    resumed = bets(flags[:, :100], flags[:, 100:], 0.05, log_suspicion=log_s[:, 99])
    np.testing.assert_allclose(resumed, lam[:, :, 100:])
    assert GATE > 0


def test_empty_monitor_and_bad_parameters() -> None:
    m = LiveMonitor()
    assert m.n == 0 and not m.alarm and np.isnan(m.agreement) and m.wealth == 1.0
    assert m.confidence_interval == (0.0, 1.0) and m.update_many([]) == 0
    with pytest.raises(LearnError):
        LiveMonitor(alpha=1.5)
