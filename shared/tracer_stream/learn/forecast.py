"""What the validation split predicts the gate will certify on calibration.

Used before calibration is looked at: to choose among candidate policies (selection.py) and to
fix where each fixed-sequence walk starts (calibrate.py). Nothing here reads calibration data,
so using it keeps the certificate valid.

The start is handed to the gate as an acceptance SHARE, which the gate turns into a minimum
count of accepted calibration items (``round(share · n)``), not as a threshold: the deployed
surrogate is refitted on training + validation rows after the choice, which makes it more
confident than the model the validation scores came from, so a threshold fixed on validation
accepts 10–16 points more of the calibration traffic than it did of validation (Banking77).
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


def expected_walk(share: np.ndarray, prob: np.ndarray) -> tuple[float, int, int]:
    """(expected certified share, best start index, most likely end index) of a walk over grid
    points with acceptance shares ``share`` and pass probabilities ``prob``.

    A walk that starts at j₀ reaches m when every test j₀..m passes. Neighbouring tests share
    most of their items, so their outcomes are strongly positively dependent; under the
    comonotone approximation P(j₀..m all pass) = qₘ = min(prob[j₀..m]), the walk ends exactly at
    m with probability qₘ − qₘ₊₁ and the expected certified share is Σₘ shareₘ (qₘ − qₘ₊₁).
    The start j₀ maximising it balances power (few items at strict thresholds) against the
    chance of stopping early (a walk that starts leniently can fail its first test).
    """
    best, start, end = 0.0, 0, 0
    for j0 in np.flatnonzero(prob > 0):
        q = np.minimum.accumulate(prob[j0:])
        value = float((share[j0:] * (q - np.r_[q[1:], 0.0])).sum())
        if value > best:
            best, start, end = value, int(j0), int(j0 + np.argmax(share[j0:] * q))
    return best, start, end


def start_share(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int,
) -> float:
    """Acceptance share at which the walk starts, chosen on NON-calibration rows.

    Thresholds just above ``n_min`` accepted items have little power, and a walk that starts
    where the disagreement is already close to ε fails its first test: the start is the one
    that maximises the expected certified share (:func:`expected_walk`). The gate turns the
    share into a count (``round(share · n)`` accepted calibration items, see
    :func:`~.gate.certify`), so it does not depend on how the deployed scores are distributed.
    """
    if len(scores) == 0 or n_cal == 0:
        return 0.0
    share, prob = pass_probability(scores, errors, grid, alpha=alpha, delta=delta, n_cal=n_cal)
    value, start, _ = expected_walk(share, prob)
    return float(share[start]) if value > 0 else 0.0


def predicted_coverage(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int,
) -> tuple[float, float | None]:
    """Coverage the gate is expected to certify on ``n_cal`` calibration items, and the
    threshold where the walk most likely ends.

    Used to choose among candidate policies on the VALIDATION split (never calibration): the
    expected certified share of a walk from the best start (:func:`expected_walk`).
    """
    if len(scores) == 0 or n_cal == 0:
        return 0.0, None
    share, prob = pass_probability(scores, errors, grid, alpha=alpha, delta=delta, n_cal=n_cal)
    value, _, end = expected_walk(share, prob)
    if value <= 0:
        return 0.0, None
    return value, float(grid[end])
