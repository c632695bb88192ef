"""The per-threshold test, the fixed-sequence walk and the "gate closed" diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from tracer_stream.learn.forecast import predicted_coverage, start_share
from tracer_stream.learn.gate import (
    NEG_INF,
    accepted_needed,
    certify,
    counts_on_grid,
    fallback_walk,
    n_min,
    p_value,
    threshold_grid,
    walk,
)

pytestmark = pytest.mark.unit


def test_n_min_matches_gate_md():
    assert n_min(0.95, 0.05) == 59
    assert n_min(0.99, 0.05) == 299
    # the defining property: (1 - ε)^n ≤ δ first holds at n_min
    assert 0.95**59 <= 0.05 < 0.95**58


def test_p_value_is_exact_binomial_cdf_from_counts():
    assert p_value(3, 100, 0.95) == pytest.approx(binom.cdf(3, 100, 0.05))
    assert p_value(0, 59, 0.95) == pytest.approx(0.95**59)


def test_counts_on_grid_accept_at_or_above_threshold():
    scores = np.array([0.9, 0.8, 0.8, 0.1, np.nan])
    errors = np.array([0, 1, 0, 1, 1], dtype=bool)
    n, k = counts_on_grid(scores, errors, np.array([0.95, 0.8, 0.5, NEG_INF]))
    assert n.tolist() == [0, 3, 3, 4]  # the NaN (novel) row is never accepted
    assert k.tolist() == [0, 1, 1, 2]


def test_grid_is_strict_to_lenient_and_ends_accepting_all():
    grid = threshold_grid(np.random.default_rng(0).random(1000), size=50)
    assert np.all(np.diff(grid) < 0)
    assert grid[-1] == NEG_INF and len(grid) <= 50


def test_walk_skips_thresholds_with_too_few_items():
    # 30 perfect items at the top, then a large clean block: stopping at the first untestable
    # threshold would certify nothing; skipping it certifies the large block.
    scores = np.concatenate([np.linspace(0.99, 0.95, 30), np.linspace(0.9, 0.5, 1000)])
    errors = np.zeros(scores.size, dtype=bool)
    res = certify(scores, errors, np.array([0.96, 0.5, NEG_INF]), alpha=0.95, delta=0.05)
    assert res.certified and res.threshold == NEG_INF
    assert res.n_accepted == 1030 and res.disagreements == 0


def test_walk_stops_at_first_failure_even_if_later_thresholds_pass():
    scores = np.repeat([0.9, 0.7, 0.5], 400)
    errors = np.zeros(scores.size, dtype=bool)
    errors[400:500] = True  # middle block is bad: 100/400 disagree
    grid = np.array([0.9, 0.7, 0.5])
    res = certify(scores, errors, grid, alpha=0.9, delta=0.05)
    assert res.threshold == 0.9 and res.n_tested == 2


def test_closed_gate_too_few_traces_says_how_many_more():
    rng = np.random.default_rng(1)
    scores = rng.random(40)
    res = certify(scores, np.zeros(40, dtype=bool), threshold_grid(rng.random(500)),
                  alpha=0.95, delta=0.05)
    assert not res.certified and res.threshold is None
    # no disagreement in 40 items: more traces will help, at least the 19 up to n_min = 59
    if res.traces_needed is None:
        assert res.reason in ("evidence_too_thin", "too_early_to_tell")
    else:
        assert res.reason == "too_few_accepted" and res.traces_needed >= 59 - 40


def test_closed_gate_when_surrogate_is_below_target_everywhere():
    errors = np.random.default_rng(3).random(1000) < 0.3
    res = certify(np.random.default_rng(4).random(1000), errors,
                  threshold_grid(np.random.default_rng(5).random(100)), alpha=0.95, delta=0.05)
    assert res.reason == "agreement_below_target" and res.traces_needed is None


def test_accepted_needed_is_minimal():
    m = int(accepted_needed(0.02, 0.95, 0.05)[0])
    assert p_value(math.floor(0.02 * m), m, 0.95) <= 0.05
    assert p_value(math.floor(0.02 * (m - 1)), m - 1, 0.95) > 0.05 or m == n_min(0.95, 0.05)


def test_predicted_coverage_tracks_certified_coverage():
    rng = np.random.default_rng(6)

    def draw(n):
        s = rng.random(n)
        return s, rng.random(n) < 0.15 * (1 - s)

    s_val, e_val = draw(3000)
    grid = threshold_grid(s_val)
    expected, _ = predicted_coverage(s_val, e_val, grid, alpha=0.95, delta=0.05, n_cal=3000)
    start = round(start_share(s_val, e_val, grid, alpha=0.95, delta=0.05, n_cal=3000) * 3000)
    got = np.mean([certify(*draw(3000), grid, alpha=0.95, delta=0.05,
                           min_accepted=start).coverage for _ in range(20)])
    # a conservative but informative ranking value
    assert 0.7 * got <= expected <= got + 0.05


def test_fallback_walk_with_one_start_is_the_fixed_sequence_walk():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = np.sort(rng.integers(1, 3000, 30))
        k = np.minimum(np.sort(rng.integers(0, 200, 30)), n)
        start = int(rng.integers(0, 3000))
        fixed = walk(n, k, 0.95, 0.05, start)
        fallback = fallback_walk(n, k, 0.95, 0.05, [(max(start, n_min(0.95, 0.05)), 1.0)])
        assert fixed[0] == fallback[0]


def test_fallback_walk_certifies_where_a_too_lenient_start_fails():
    # clean top 600 items, then a block at 6%: the V start at 1,500 items fails its first test
    # (and the fixed walk certifies nothing); the top start still certifies the clean block
    scores = np.r_[np.linspace(1.0, 0.6, 600), np.linspace(0.59, 0.0, 1400)]
    errors = np.zeros(2000, dtype=bool)
    errors[600::16] = True
    grid = threshold_grid(np.linspace(0.0, 1.0, 1001), size=100)
    fixed = certify(scores, errors, grid, alpha=0.98, delta=0.05, min_accepted=1500)
    new = certify(scores, errors, grid, alpha=0.98, delta=0.05, min_accepted=1500,
                  plan="fallback")
    assert not fixed.certified
    assert new.certified and new.disagreements / new.n_accepted < 0.02


def test_forecast_refuses_when_the_teacher_is_noisier_than_alpha_allows():
    rng = np.random.default_rng(9)
    scores = rng.random(3000)
    errors = rng.random(3000) < 0.05  # 5% disagreement everywhere, α = 0.98 wants < 2%
    res = certify(scores, errors, threshold_grid(rng.random(1000)), alpha=0.98, delta=0.05)
    assert not res.certified and res.traces_needed is None
    assert res.reason == "agreement_below_target"
