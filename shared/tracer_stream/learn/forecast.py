"""What the validation split predicts the gate will certify on calibration, and how many more
traces a closed gate needs.

Used before calibration is looked at: to choose among candidate policies (selection.py) and to
fix where each walk starts (calibrate.py). Those functions never read calibration data, so using
them keeps the certificate valid. :func:`traces_to_certify` is the exception: it runs after a
closed gate, on its calibration data, and only says how far the gate is from opening.

The start is handed to the gate as an acceptance SHARE, which the gate turns into a minimum
count of accepted calibration items (``round(share · n)``), not as a threshold: the deployed
surrogate is refitted on training + validation rows after the choice, which makes it more
confident than the model the validation scores came from, so a threshold fixed on validation
accepts 10–16 points more of the calibration traffic than it did of validation (Banking77).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, binom, norm

from .gate import counts_on_grid, n_min

_CREDIBLE = 0.95  # one-sided level at which a rate must be below ε for a forecast


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
    m = len(prob)
    if m == 0 or not (prob > 0).any():
        return 0.0, 0, 0
    # q[j0, j] = min(prob[j0..j]) for j ≥ j0, 0 before the start (all starts at once)
    upper = np.triu(np.ones((m, m), dtype=bool))
    q = np.minimum.accumulate(np.where(upper, prob[None, :], np.inf), axis=1)
    q = np.where(upper, q, 0.0)
    drop = np.where(upper, q - np.concatenate([q[:, 1:], np.zeros((m, 1))], axis=1), 0.0)
    values = np.where(prob > 0, (share[None, :] * drop).sum(axis=1), 0.0)
    start = int(np.argmax(values))  # the first of equal values, as a scan from the top
    best = float(values[start])
    if best <= 0:
        return 0.0, 0, 0
    return best, start, int(np.argmax(share * q[start]))


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


@dataclass(frozen=True)
class TracesForecast:
    """How many more calibration traces the gate is expected to need before it opens.

    ``more`` is None when no number can be given; ``reason`` then says why:
    ``agreement_below_target`` (every observed disagreement rate is ≥ 1 − α, on thresholds
    with at least 1/(1 − α) items: more
    traces of this kind do not help, the teacher is noisier or the surrogate weaker than α
    allows), ``evidence_too_thin`` (some rate is below 1 − α but not credibly, so any number
    would be a guess) or ``beyond_horizon`` (more than ``horizon`` times the current traces).
    """

    more: int | None
    reason: str | None
    open_probability: float  # predicted probability that the gate opens at n + more


def traces_to_certify(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int, horizon: float = 100.0, level: float = 0.5,
) -> TracesForecast:
    """Forecast the calibration size at which the gate opens, from the closed gate's own data.

    The surrogate is held fixed (in production more traces also refit it, usually to a better
    one). For a candidate size n′ each grid threshold's test passes with the probability of
    :func:`pass_probability` (normal approximation widened by the uncertainty of the observed
    rates) at δ; the gate is taken to open with the likeliest of them, as the next fit chooses
    its walk's start anew on validation. The forecast is the smallest n′ on a geometric ladder up to
    ``horizon``·n (bisected: the probability grows with n′) at which that probability reaches
    ``level`` (the median), minus ``n_cal``. It is checked by subsampling in
    ``bench/b1_walk.py --forecast`` (BENCHMARKS.md), where it is only a rough guide: the size
    at which a closed gate opens varies several-fold between draws.

    >>> from tracer_stream.learn.gate import threshold_grid
    >>> rng = np.random.default_rng(1)
    >>> s = rng.random(200); e = rng.random(200) < 0.06 * (1 - s)
    >>> f = traces_to_certify(s, e, threshold_grid(s, 50), alpha=0.98, delta=0.05, n_cal=200)
    >>> f.reason is None and f.more > 0
    True
    >>> e_bad = rng.random(200) < 0.3
    >>> traces_to_certify(s, e_bad, threshold_grid(s, 50), alpha=0.98, delta=0.05,
    ...                   n_cal=200).reason
    'agreement_below_target'
    """
    n, k = counts_on_grid(scores, errors, grid)
    eps = 1.0 - alpha
    # rates from thresholds where ≥ 1 disagreement is expected at rate ε (else any)
    big = n >= 1.0 / eps
    usable = big if big.any() else n > 0
    if not (usable & (k < eps * n)).any():
        return TracesForecast(None, "agreement_below_target", 0.0)
    upper = np.where(usable, beta.ppf(_CREDIBLE, k + 0.5, n - k + 0.5), 1.0)
    if not (upper < eps).any():
        return TracesForecast(None, "evidence_too_thin", 0.0)
    sizes = np.unique(np.rint(max(n_cal, 1) * np.geomspace(1.0, horizon, 200)).astype(int))
    floor = n_min(alpha, delta)

    def open_probability(size: int) -> float:
        share, prob = pass_probability(scores, errors, grid, alpha=alpha, delta=delta,
                                       n_cal=size)
        return float(prob[share * size >= floor].max(initial=0.0))

    # the probability grows with the size: bisect the ladder for the first size at ``level``
    lo, hi = -1, len(sizes) - 1
    if open_probability(int(sizes[hi])) < level:
        return TracesForecast(None, "beyond_horizon", 0.0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if open_probability(int(sizes[mid])) >= level:
            hi = mid
        else:
            lo = mid
    size = int(sizes[hi])
    return TracesForecast(max(size - n_cal, 1), None, open_probability(size))
