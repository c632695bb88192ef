"""Statistical validity of the gate: in worlds with a known disagreement curve the certified
threshold breaks α in at most a δ share of calibration draws; a naive point-estimate rule
breaks it far more often and fails the same check.

Check: with N draws per cell, V violations pass iff V ≤ binom.ppf(0.999, N, δ), so a procedure
whose true violation rate is δ fails with probability < 0.1%, and one whose rate is 2δ or more
passes with a vanishing probability (< 1e-6 at N = 600).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from tracer_stream.learn.gate import certify, counts_on_grid, threshold_grid

pytestmark = pytest.mark.unit

DELTA = 0.05
N_DRAWS = 600
_fine = np.linspace(0.0, 1.0, 20001)


def monotone(s: np.ndarray) -> np.ndarray:
    """Disagreement falls with the score; handled risk crosses 0.10 at λ≈0.27, 0.05 at λ≈0.54."""
    return 0.4 * (1.0 - s) ** 1.5


def bump(s: np.ndarray) -> np.ndarray:
    """Non-monotone: a pocket of confident mistakes around s = 0.75."""
    return 0.3 * (1.0 - s) ** 2 + 0.09 * np.exp(-(((s - 0.75) / 0.06) ** 2))


def true_risk(curve, lam: float) -> float:
    """Disagreement on handled traffic, E[r(s) | s ≥ λ], scores uniform on [0, 1]."""
    lower = max(lam, 0.0)
    keep = _fine >= lower
    return float(curve(_fine[keep]).mean())


def naive_threshold(scores, errors, grid, alpha):
    """Most lenient grid threshold whose empirical agreement is ≥ α (no test, no n_min)."""
    n, k = counts_on_grid(scores, errors, grid)
    ok = np.flatnonzero((n > 0) & (1.0 - k / np.maximum(n, 1) >= alpha))
    return float(grid[ok[-1]]) if ok.size else None


def violations(curve, n: int, alpha: float, rule: str, seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    grid = threshold_grid(np.linspace(0.0, 1.0, 1001), size=100)  # fixed before calibration
    bad = deployed = 0
    for _ in range(N_DRAWS):
        s = rng.random(n)
        e = rng.random(n) < curve(s)
        if rule == "ltt":
            lam = certify(s, e, grid, alpha=alpha, delta=DELTA, forecast=False).threshold
        else:
            lam = naive_threshold(s, e, grid, alpha)
        if lam is None:
            continue
        deployed += 1
        bad += true_risk(curve, lam) > 1.0 - alpha
    return bad, deployed


LIMIT = int(binom.ppf(0.999, N_DRAWS, DELTA))
CELLS = [(monotone, 500, 0.90), (monotone, 2000, 0.95), (bump, 500, 0.95), (bump, 2000, 0.90)]


@pytest.mark.parametrize(("curve", "n", "alpha"), CELLS,
                         ids=[f"{c.__name__}-n{n}-a{a}" for c, n, a in CELLS])
def test_fixed_sequence_gate_keeps_violation_rate_below_delta(curve, n, alpha):
    bad, deployed = violations(curve, n, alpha, "ltt", seed=n)
    assert deployed > N_DRAWS // 2, "the world must be certifiable most of the time"
    assert bad <= LIMIT, f"{bad}/{N_DRAWS} violations > {LIMIT}"


@pytest.mark.parametrize(("curve", "n", "alpha"), CELLS,
                         ids=[f"{c.__name__}-n{n}-a{a}" for c, n, a in CELLS])
def test_naive_point_estimate_rule_fails_the_same_check(curve, n, alpha):
    bad, _ = violations(curve, n, alpha, "naive", seed=n)
    assert bad > LIMIT, f"naive rule unexpectedly valid: {bad}/{N_DRAWS}"


# The walk's start as a count of accepted calibration items (``min_accepted``), with a grid
# from scores distributed differently from calibration (as after the refit, which makes the
# deployed surrogate more confident than the one that scored validation). The hardest start is
# the one whose first test sits where the handled risk crosses ε. The check is the one above
# (≤ binom.ppf(0.999, N, δ) violations in N draws); the naive rule shows that it has power.

def boundary_share(curve, alpha: float) -> float:
    """Acceptance share at which the handled risk of ``curve`` (uniform scores) reaches ε."""
    shares = np.linspace(0.01, 1.0, 400)
    risk = np.array([true_risk(curve, 1.0 - s) for s in shares])
    return float(shares[np.flatnonzero(risk <= 1.0 - alpha)[-1]])


def count_start_violations(curve, n: int, alpha: float, start_share: float,
                           seed: int, plan: str = "fixed") -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    # "validation" scores concentrated lower than calibration's: the grid's quantiles are
    # shifted against the calibration shares, as the refit shifts them
    grid = threshold_grid(np.linspace(0.0, 1.0, 1001) ** 1.6, size=200)
    m = round(start_share * n)
    bad = deployed = 0
    for _ in range(N_DRAWS):
        s = rng.random(n)
        e = rng.random(n) < curve(s)
        lam = certify(s, e, grid, alpha=alpha, delta=DELTA, min_accepted=m, plan=plan,
                      forecast=False).threshold
        if lam is None:
            continue
        deployed += 1
        bad += true_risk(curve, lam) > 1.0 - alpha
    return bad, deployed


START_CELLS = [(monotone, 2000, 0.95), (bump, 2000, 0.90), (monotone, 500, 0.90)]


@pytest.mark.parametrize(("curve", "n", "alpha"), START_CELLS,
                         ids=[f"{c.__name__}-n{n}-a{a}" for c, n, a in START_CELLS])
def test_count_start_keeps_violation_rate_below_delta(curve, n, alpha):
    edge = boundary_share(curve, alpha)
    # a useful start (well inside the certifiable region) and the worst one (at the boundary)
    bad, deployed = count_start_violations(curve, n, alpha, 0.6 * edge, n)
    assert deployed > N_DRAWS // 2, "the world must be certifiable most of the time"
    assert bad <= LIMIT, f"{bad}/{N_DRAWS} violations > {LIMIT}"
    bad, _ = count_start_violations(curve, n, alpha, edge, n + 1)
    assert bad <= LIMIT, f"start at the boundary: {bad}/{N_DRAWS} violations > {LIMIT}"


@pytest.mark.parametrize(("curve", "n", "alpha"), START_CELLS,
                         ids=[f"{c.__name__}-n{n}-a{a}" for c, n, a in START_CELLS])
def test_fallback_walk_keeps_violation_rate_below_delta(curve, n, alpha):
    # the fallback walk (half of δ from the top, half from the start), with the start at the
    # boundary (the worst place) and well inside: the same check as the fixed walk
    edge = boundary_share(curve, alpha)
    for share, seed in ((0.6 * edge, n + 2), (edge, n + 3)):
        bad, deployed = count_start_violations(curve, n, alpha, share, seed, plan="fallback")
        assert deployed > N_DRAWS // 2, "the world must be certifiable most of the time"
        assert bad <= LIMIT, f"start {share:.2f}: {bad}/{N_DRAWS} violations > {LIMIT}"


TOOTH_CELLS = START_CELLS[:2]


@pytest.mark.parametrize(("curve", "n", "alpha"), TOOTH_CELLS,
                         ids=[f"{c.__name__}-n{n}-a{a}" for c, n, a in TOOTH_CELLS])
def test_tooth_walk_keeps_violation_rate_below_delta(curve, n, alpha):
    # the fixed walk from the first count of the start's critical-count step
    # (gate.tooth_start): a stricter start than the count it is given, same walk after it
    edge = boundary_share(curve, alpha)
    bad, deployed = count_start_violations(curve, n, alpha, 0.6 * edge, n + 4, plan="tooth")
    assert deployed > N_DRAWS // 2, "the world must be certifiable most of the time"
    assert bad <= LIMIT, f"{bad}/{N_DRAWS} violations > {LIMIT}"
    bad, _ = count_start_violations(curve, n, alpha, edge, n + 5, plan="tooth")
    assert bad <= LIMIT, f"start at the boundary: {bad}/{N_DRAWS} violations > {LIMIT}"
