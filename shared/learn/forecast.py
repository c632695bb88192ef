"""What the validation split predicts the gate will certify on calibration.

Used before calibration is looked at: to choose among candidate policies (selection.py) and to
fix where each fixed-sequence walk starts (calibrate.py). Nothing here reads calibration data,
so using it keeps the certificate valid.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom, norm

from .gate import counts_on_grid, n_min


def pass_probability(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(acceptance share, probability that the test passes) per grid threshold, predicted from
    NON-calibration rows for a calibration set of ``n_cal`` items.

    At each threshold the calibration count is nλ ≈ share·n_cal and the test passes when kλ is
    at most the critical count c = max{k : binom.cdf(k, nλ, ε) ≤ δ}. kλ is approximated as
    normal around nλ·r, with r the smoothed rate (k + 1)/(n + 2) of these rows and a variance
    that adds the uncertainty of r itself (these rows are a sample too).
    """
    n, k = counts_on_grid(scores, errors, grid)
    share = n / max(len(scores), 1)
    n_exp = np.rint(share * n_cal)
    rate = (k + 1.0) / (n + 2.0)
    eps = 1.0 - alpha
    crit = binom.ppf(delta, np.maximum(n_exp, 1), eps)
    crit = np.where(binom.cdf(crit, np.maximum(n_exp, 1), eps) > delta, crit - 1, crit)
    sd = np.sqrt(n_exp * rate * (1 - rate) * (1.0 + n_exp / np.maximum(n, 1)))
    prob = norm.cdf((crit + 0.5 - n_exp * rate) / np.maximum(sd, 1e-9))
    testable = (n_exp >= n_min(alpha, delta)) & (crit >= 0)
    return share, np.where(testable, prob, 0.0)


def start_share(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int,
) -> float:
    """Acceptance share at which the walk starts, chosen on NON-calibration rows.

    Thresholds just above ``n_min`` accepted items have little power: a walk that starts there
    usually stops at once. The walk instead starts where :func:`pass_probability` is highest
    and goes on to more lenient thresholds. Skipping a prefix fixed before calibration is the
    same as using a shorter grid, so validity is kept.
    """
    if len(scores) == 0 or n_cal == 0:
        return 0.0
    share, prob = pass_probability(scores, errors, grid, alpha=alpha, delta=delta, n_cal=n_cal)
    return float(share[int(np.argmax(prob))]) if prob.max() > 0 else 0.0


def from_share(scores: np.ndarray, grid: np.ndarray, share: float) -> np.ndarray:
    """The grid from the first threshold that accepts at least ``share`` of ``scores`` on."""
    n, _ = counts_on_grid(scores, np.zeros(len(scores), dtype=bool), grid)
    first = int(np.searchsorted(n / max(len(scores), 1), share - 1e-12, side="left"))
    return grid[min(first, len(grid) - 1):]


def predicted_coverage(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int,
) -> tuple[float, float | None]:
    """Coverage the gate is expected to certify on ``n_cal`` calibration items, and the
    threshold where that is best.

    Used to choose among candidate policies on the VALIDATION split (never calibration). The
    walk starts at the most probable pass (:func:`start_share`); reaching threshold j needs
    every test from the start to j to pass, so its value is approximated by
    shareⱼ · min over those tests of their pass probability, maximised over j.
    """
    if len(scores) == 0 or n_cal == 0:
        return 0.0, None
    share, prob = pass_probability(scores, errors, grid, alpha=alpha, delta=delta, n_cal=n_cal)
    if prob.max() <= 0:
        return 0.0, None
    start = int(np.argmax(prob))
    value = share[start:] * np.minimum.accumulate(prob[start:])
    best = int(np.argmax(value))
    return float(value[best]), float(grid[start + best])
