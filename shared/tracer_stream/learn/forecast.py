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

import math
from dataclasses import dataclass

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
    return share, _pass_from_counts(share, n, k, alpha=alpha, delta=delta, n_cal=n_cal)


def _pass_from_counts(share: np.ndarray, n: np.ndarray, k: np.ndarray, *, alpha: float,
                      delta: float, n_cal: np.ndarray | int) -> np.ndarray:
    """:func:`pass_probability` from counts (any leading dimensions; ``n_cal`` broadcasts)."""
    n_exp = np.rint(share * n_cal)
    rate = (k + 1.0) / (n + 2.0)
    eps = 1.0 - alpha
    sizes, where = np.unique(np.maximum(n_exp, 1), return_inverse=True)  # few distinct sizes
    crit = binom.ppf(delta, sizes, eps)
    crit = np.where(binom.cdf(crit, sizes, eps) > delta, crit - 1, crit)[where.reshape(
        n_exp.shape)]
    sd = np.sqrt(n_exp * rate * (1 - rate) * (1.0 + n_exp / np.maximum(n, 1)))
    prob = norm.cdf((crit + 0.5 - n_exp * rate) / np.maximum(sd, 1e-9))
    testable = (n_exp >= n_min(alpha, delta)) & (crit >= 0)
    return np.where(testable, prob, 0.0)


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
    if len(prob) == 0 or not (prob > 0).any():
        return 0.0, 0, 0
    values, q = _walk_values(share, prob)
    start = int(np.argmax(values))  # the first of equal values, as a scan from the top
    best = float(values[start])
    if best <= 0:
        return 0.0, 0, 0
    return best, start, int(np.argmax(share * q[start]))


def _walk_values(share: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`expected_walk`'s value of every start, and q[…, j₀, j] = min(prob[j₀..j]) (0
    before the start); ``prob`` may have leading dimensions (many walks at once)."""
    m = prob.shape[-1]
    upper = np.triu(np.ones((m, m), dtype=bool))
    q = np.minimum.accumulate(np.where(upper, prob[..., None, :], np.inf), axis=-1)
    q = np.where(upper, q, 0.0)
    after = np.concatenate([q[..., 1:], np.zeros((*q.shape[:-1], 1))], axis=-1)
    drop = np.where(upper, q - after, 0.0)
    return np.where(prob > 0, (share * drop).sum(axis=-1), 0.0), q


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


# -- how many more traces a closed gate needs ---------------------------------------------------

FORECAST_REASONS = ("agreement_below_target", "too_early_to_tell", "beyond_horizon",
                    "evidence_too_thin")
"""Why :func:`traces_to_certify` gives no number (``TracesForecast.reason``); a closed gate's
``reason`` then (``docs/reasons.md``, "Closed gates")."""

_DRAWS = 160  # posterior draws of the disagreement curve
_STEPS = 32  # candidate sizes n + N, N geometric from n/50 to horizon · n
_RANGE = (0.2, 0.8)  # predicted probabilities that bound the reported range
_CONFIDENCE = 0.8  # a number only when the gate first opens within ×2 of it with this chance
_NEVER = 0.05  # below this chance that any threshold is under ε: more traces will not help


@dataclass(frozen=True)
class TracesForecast:
    """How many more calibration traces a closed gate is expected to need before it opens.

    ``more`` is the number N for which the predicted chance that the gate first opens between
    n + N/2 and n + 2N traces (``confidence``) is highest; it is given only when that chance is
    at least 0.8, else ``more`` is None and ``reason`` is one of :data:`FORECAST_REASONS`.
    ``low``–``high`` is the range of N over which the predicted chance that the gate has
    opened grows from 0.2 to 0.8 (``high`` None: beyond the horizon); it is given whenever
    the gate is predicted to open at all within the horizon.
    """

    more: int | None
    reason: str | None
    low: int | None = None
    high: int | None = None
    confidence: float = 0.0


def traces_to_certify(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *, alpha: float, delta: float,
    n_cal: int, plan: str = "fixed", horizon: float = 100.0, seed: int = 0,
) -> TracesForecast:
    """Forecast how many more calibration traces a closed gate needs, by predictive simulation.

    The surrogate is held fixed and the current calibration traces stay in the calibration
    set; new ones are drawn from the predictive distribution of the observed ones:

    * the grid's bins are pooled, from the most confident down, into blocks of at least
      max(n/10, 1/(2ε)) items; each block's disagreement rate gets a Jeffreys Beta posterior
      from its counts, and a posterior draw of the curve is one draw per block;
    * new traces fall into the grid's bins at the observed shares, and disagree at the draw's
      rate (Poisson counts; nested over the candidate sizes n + N, as a growing set is);
    * at each size the gate's own rule runs on the current plus the new counts: the walk starts
      where :func:`start_share` (on these calibration rows, for that size) says, and opens when
      its first test passes (``plan="fallback"``: when either start's first test passes at its
      share of δ, see :func:`~.gate.walk_plan`).

    The first size at which a draw opens is a draw of the opening size. The answer is a number
    only when the chance of opening within a factor 2 of it is ≥ 0.8; otherwise the reason is
    ``agreement_below_target`` (fewer than 5% of the draws have any threshold below ε),
    ``too_early_to_tell`` or ``beyond_horizon`` (fewer than half open by ``horizon`` · n:
    most draws would open eventually for ``beyond_horizon``, not for ``too_early_to_tell``)
    or ``evidence_too_thin`` (they open, but too spread out for a number). ``n_cal`` is the
    calibration size the traces came from when ``scores`` is a sub-population (RSB stage 2):
    the answer is scaled to it. Checked by subsampling in ``bench/b1_walk.py --forecast``
    (BENCHMARKS.md). Deterministic for a given ``seed``.

    >>> from tracer_stream.learn.gate import threshold_grid
    >>> s, e = np.ones(100), np.zeros(100, dtype=bool)  # one threshold, no disagreement yet
    >>> f = traces_to_certify(s, e, np.array([-np.inf]), alpha=0.98, delta=0.05, n_cal=100)
    >>> f.reason is None and f.low <= f.more <= f.high  # n_min = 149: about 50 more
    True
    >>> rng = np.random.default_rng(1)
    >>> s = rng.random(600); e_bad = rng.random(600) < 0.3
    >>> traces_to_certify(s, e_bad, threshold_grid(s, 50), alpha=0.98, delta=0.05,
    ...                   n_cal=600).reason
    'agreement_below_target'
    """
    s = np.asarray(scores, dtype=float)
    m = len(s)
    eps = 1.0 - alpha
    n, k = counts_on_grid(s, errors, grid)
    if m == 0 or int(n[-1]) == 0:
        return TracesForecast(None, "too_early_to_tell")
    rng = np.random.default_rng(seed)
    share = n / m  # cumulative share accepted at each threshold
    rates = _curve_draws(n, k, eps, rng)  # (draws, thresholds): cumulative rate of a draw
    reach = share * m * horizon >= n_min(alpha, delta)
    possible = float(((rates < eps) & reach[None, :]).any(axis=1).mean())
    if possible < _NEVER:
        return TracesForecast(None, "agreement_below_target")
    more = np.unique(np.rint(np.geomspace(max(m / 50, 1.0), m * horizon, _STEPS)).astype(int))
    opened, any_test = _open_by(m, n, k, rates, more, alpha=alpha, delta=delta, plan=plan,
                                rng=rng)
    first, earliest = (np.where(o.any(axis=1), more[o.argmax(axis=1)], np.inf)
                       for o in (opened, any_test))
    scale = max(n_cal, m) / m  # sub-population traces → traces of the whole stream
    if np.isinf(first).mean() > 0.5:
        reason = "beyond_horizon" if possible >= 0.5 else "too_early_to_tell"
        return TracesForecast(None, reason)
    low, mid, high = (float(np.quantile(first, q, method="inverted_cdf"))
                      for q in (_RANGE[0], 0.5, _RANGE[1]))
    # within ×2: late openings as simulated; early ones bounded by the chance that any
    # threshold's test passes (a start moved by a few more validation traces can land there)
    hit = max(0.0, 1.0 - float((earliest < mid / 2).mean()) - float((first > 2 * mid).mean()))

    def size(x: float) -> int | None:
        return None if np.isinf(x) else max(1, math.ceil(x * scale))

    if hit < _CONFIDENCE:
        return TracesForecast(None, "evidence_too_thin", size(low), size(high), hit)
    return TracesForecast(size(mid), None, size(low), size(high), hit)


def _curve_draws(n: np.ndarray, k: np.ndarray, eps: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """Posterior draws of the cumulative disagreement rate at each threshold (draws × grid).

    The bins are pooled from the top into blocks of ≥ max(n/10, 1/(2ε)) items; each block's
    rate is drawn from its Beta(k + 0.2, n − k + 1) posterior (a prior of weight 1.2 that
    leans to small rates, as a confident region's are), and each draw of the block rates is
    projected on the monotone curves (:func:`_monotone`: the disagreement does not fall as
    the score falls), which pools a block that looks clean by chance with its neighbours
    unless the blocks above it are cleaner still.
    """
    bins_n = np.diff(n, prepend=0)
    bins_k = np.diff(k, prepend=0)
    size = max(int(n[-1]) / 10, 0.5 / eps)
    blocks = int(max(1, int(n[-1]) // math.ceil(size)))
    block = np.minimum((n - bins_n) // math.ceil(size), blocks - 1).astype(int)
    bn = np.bincount(block, bins_n, minlength=blocks)
    bk = np.bincount(block, bins_k, minlength=blocks)
    draws = _monotone(rng.beta(bk + 0.2, bn - bk + 1.0, size=(_DRAWS, blocks)), bn + 1e-9)
    return _cumulative(draws[:, block], bins_n + 1e-9)


def _monotone(rates: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted isotonic (non-decreasing) projection of each row, by the max–min formula
    fⱼ = maxᵢ≤ⱼ minₗ≥ⱼ mean(i..l) (few blocks: all the means at once).

    >>> _monotone(np.array([[0.1, 0.0, 0.3]]), np.array([1.0, 1.0, 1.0])).round(2).tolist()
    [[0.05, 0.05, 0.3]]
    """
    cum = np.concatenate([np.zeros((len(rates), 1)), np.cumsum(rates * weight, axis=1)], axis=1)
    w = np.concatenate([[0.0], np.cumsum(weight)])
    m = rates.shape[1]
    first, last = np.triu_indices(m)
    mean = np.full((len(rates), m, m), np.nan)
    mean[:, first, last] = (cum[:, last + 1] - cum[:, first]) / (w[last + 1] - w[first])
    out = np.empty_like(rates)
    for j in range(m):
        out[:, j] = np.nanmin(mean[:, : j + 1, j:], axis=2).max(axis=1)
    return out


def _cumulative(bin_rates: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Cumulative rate from the top at each threshold, bins weighted by ``weight``."""
    return np.cumsum(bin_rates * weight, axis=1) / np.cumsum(weight)


def _open_by(m: int, n: np.ndarray, k: np.ndarray, rates: np.ndarray, more: np.ndarray, *,
             alpha: float, delta: float, plan: str, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """Whether each draw's gate is open at m + ``more`` traces (draws × sizes), among the
    draws whose gate is closed at m as the observed one is; and whether any threshold's test
    would pass there (an upper bound on opening early by a luckier start).

    Calibration and validation grow alike: m + ``more`` calibration traces (the m observed
    ones plus nested Poisson increments drawn from the draw's curve) and as many validation
    traces (all drawn from the curve; nested too, so that the start moves as a growing
    validation set moves it), on up to 32 of the grid's thresholds. At each size the start is
    chosen by :func:`start_share`'s rule (:func:`expected_walk` over
    :func:`pass_probability`) on the simulated validation counts, handed to the calibration
    counts as a count, and the gate opens when the test at the start passes at δ
    (``plan="fallback"``: at δ/2, or the test at the top start does, see
    :func:`~.gate.walk_plan`).
    """
    eps = 1.0 - alpha
    cols = np.unique(np.linspace(0, len(n) - 1, min(len(n), 32)).astype(int))
    share = n[cols] / m
    band_share = np.diff(share, prepend=0.0)
    band_bad = np.clip(np.diff(rates[:, cols] * share, prepend=0.0, axis=1), 0.0, band_share)
    extra = np.concatenate([[0], more]).astype(float)

    def grow(first: float) -> tuple[np.ndarray, np.ndarray]:
        """Nested (accepted, disagreeing) counts, draws × sizes × thresholds."""
        inc = np.diff(extra, prepend=-first)[None, :, None]
        bad = np.cumsum(np.cumsum(rng.poisson(inc * band_bad[:, None, :]), axis=1), axis=2)
        good = rng.poisson(inc * (band_share - band_bad)[:, None, :])
        return bad + np.cumsum(np.cumsum(good, axis=1), axis=2), bad

    new_n, new_k = grow(0.0)
    tot_n, tot_k = n[cols] + new_n, k[cols] + new_k
    val_n, val_k = grow(float(m))
    level = delta if plan == "fixed" else delta / 2
    # the start as the gate chooses it (start_share), on the simulated validation counts
    # shares of the simulated sets' own sizes (Poisson counts: near m + more, not exactly)
    val_size = np.maximum(val_n[..., -1:] / share[-1], 1.0)
    val_share = val_n[..., ::2] / val_size  # every other threshold: 16 starts
    prob = _pass_from_counts(val_share, val_n[..., ::2], val_k[..., ::2], alpha=alpha,
                             delta=level, n_cal=val_size)
    values, _ = _walk_values(val_share[..., None, :], prob)
    start = np.argmax(values, axis=2)
    begin = np.take_along_axis(val_share, start[..., None], axis=2)[..., 0]
    begin = np.where(values.max(axis=2) > 0, begin, 0.0)  # start_share's 0: no good start
    floor = np.maximum(np.rint(begin * tot_n[..., -1] / share[-1]), n_min(alpha, level))
    # the walk's first test: the first threshold that accepts that many calibration items
    start = np.argmax(tot_n >= floor[..., None], axis=2)
    testable = (tot_n >= floor[..., None]).any(axis=2)

    def pick(counts: np.ndarray, at: np.ndarray) -> np.ndarray:
        return np.take_along_axis(counts, at[..., None], axis=2)[..., 0]

    opened = (binom.cdf(pick(tot_k, start), pick(tot_n, start), eps) <= level) & testable
    if plan != "fixed":
        top = np.argmax(tot_n >= n_min(alpha, level), axis=2)
        opened |= binom.cdf(pick(tot_k, top), pick(tot_n, top), eps) <= level
    anywhere = binom.cdf(tot_k, tot_n, eps) <= level
    anywhere = (anywhere & (tot_n >= n_min(alpha, level))).any(axis=2) | opened
    keep = ~opened[:, 0]
    keep = keep if keep.mean() >= 0.1 else slice(None)
    return opened[keep, 1:], anywhere[keep, 1:]
