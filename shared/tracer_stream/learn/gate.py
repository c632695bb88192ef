"""The parity gate of ``docs/gate.md``: exact binomial tests in a fixed sequence (Learn-then-Test).

Calibration item i has an acceptor score sᵢ and a disagreement eᵢ = 1[surrogate ≠ teacher]. A
threshold λ accepts the nλ items with sᵢ ≥ λ, kλ of which disagree. The null "parity fails at λ"
(true disagreement on handled traffic > ε = 1 − α) is tested with the exact p-value
``binom.cdf(kλ, nλ, ε)``. The grid λ₁ > λ₂ > … is fixed before calibration; thresholds that accept
fewer than ``n_min`` items are skipped (that depends on scores only); from the first testable one
on, each threshold is certified while its p-value is ≤ δ and the walk stops at the first that is
not. The last certified threshold is the gate's threshold.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = rng.random(2000)
>>> errors = rng.random(2000) < 0.2 * (1 - scores)     # disagreement falls with the score
>>> result = certify(scores, errors, threshold_grid(rng.random(5000)), alpha=0.9, delta=0.05)
>>> result.certified, round(result.coverage, 2)
(True, 0.91)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import binom

from ..errors import LearnError

if TYPE_CHECKING:
    from .forecast import TracesForecast

NEG_INF = -math.inf


def n_min(alpha: float, delta: float) -> int:
    """Fewest accepted items with which a test at (α, δ) can pass: ⌈ln δ / ln(1 − ε)⌉.

    >>> n_min(0.95, 0.05), n_min(0.99, 0.05)
    (59, 299)
    """
    return math.ceil(math.log(delta) / math.log(alpha))


def spend_delta(delta: float, k: int) -> float:
    """δₖ = δ·6/(π²k²) for the k-th certified refit (k ≥ 1); the δₖ sum to δ over all refits.

    >>> round(spend_delta(0.05, 1), 4), round(spend_delta(0.05, 10), 6)
    (0.0304, 0.000304)
    """
    if k < 1:
        raise LearnError("refits are counted from 1", k=k)
    return delta * 6.0 / (math.pi**2 * k**2)


def p_value(k: int | np.ndarray, n: int | np.ndarray, alpha: float) -> np.ndarray:
    """Exact p-value of "disagreement > 1 − α" from integer counts: P(Binomial(n, 1 − α) ≤ k)."""
    return np.asarray(binom.cdf(np.asarray(k), np.asarray(n), 1.0 - alpha), dtype=float)


def threshold_grid(reference_scores: np.ndarray, size: int = 200) -> np.ndarray:
    """A strict-to-lenient threshold grid from scores that are NOT calibration scores.

    The thresholds are quantiles of ``reference_scores`` at evenly spaced acceptance rates
    (1/size, 2/size, …), de-duplicated, followed by −∞ (accept everything).
    """
    ref = np.asarray(reference_scores, dtype=float)
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.array([NEG_INF])
    levels = 1.0 - np.arange(1, size) / size
    grid = np.unique(np.quantile(ref, levels))[::-1]
    return np.concatenate([grid, [NEG_INF]])


@dataclass(frozen=True)
class GateResult:
    """Outcome of one fixed-sequence walk at (α, δ) on a calibration set.

    ``threshold`` is None when nothing was certified; then ``reason`` says why and
    ``traces_needed`` how many more calibration-eligible traces are expected to be needed
    (None when the forecast gives no number; ``reason`` then says why), with
    ``traces_low``–``traces_high`` the forecast's 20–80% range (high None: beyond 100·n).
    """

    alpha: float
    delta: float
    certified: bool
    threshold: float | None
    n_cal: int
    n_accepted: int
    disagreements: int
    coverage: float
    agreement: float | None
    p_value: float | None
    n_min: int
    n_tested: int
    reason: str | None
    traces_needed: int | None
    min_accepted: int = 0  # where the walk started (accepted calibration items, fixed before)
    traces_low: int | None = None
    traces_high: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["threshold"] is not None and math.isinf(out["threshold"]):
            out["threshold"] = "-inf"
        return out


def counts_on_grid(
    scores: np.ndarray, errors: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(nλ, kλ) for every λ of the grid: accepted items and disagreements among them."""
    s = np.asarray(scores, dtype=float)
    e = np.asarray(errors, dtype=bool)
    keep = ~np.isnan(s)  # NaN: never accepted (novel inputs), whatever the threshold
    s, e = s[keep], e[keep]
    order = np.argsort(-s, kind="stable")
    s_desc = s[order]
    cum_k = np.concatenate([[0], np.cumsum(e[order])])
    # number of items with s >= λ, for descending s: position of λ in -s
    n = np.searchsorted(-s_desc, -np.asarray(grid, dtype=float), side="right")
    return n.astype(np.int64), cum_k[n].astype(np.int64)


def certify(
    scores: np.ndarray,
    errors: np.ndarray,
    grid: np.ndarray,
    *,
    alpha: float,
    delta: float,
    n_cal: int | None = None,
    min_accepted: int = 0,
    plan: str = "fixed",
    forecast: bool = True,
) -> GateResult:
    """Run the fixed-sequence walk of ``docs/gate.md`` and return its certificate.

    Parameters
    ----------
    scores
        Acceptor scores of the calibration items (NaN for items the policy never accepts,
        e.g. novel inputs; they still count in ``n_cal``).
    errors
        Disagreement of each calibration item (surrogate ≠ teacher).
    grid
        Thresholds, strict to lenient, fixed before looking at the calibration disagreements.
    n_cal
        Calibration traces the set came from (defaults to ``len(scores)``); used for coverage
        and for the traces-needed estimate when ``scores`` is a sub-population (RSB stage 2).
    min_accepted
        Where the walk starts: thresholds that accept fewer calibration items than this (or
        than ``n_min``) are skipped (the skip rule of ``docs/gate.md``). It must be fixed before
        calibration (e.g. a share predicted on validation times the calibration size); like the
        skip rule it depends on the scores only, never on the disagreements.
    plan
        ``"fixed"`` (default): the fixed-sequence :func:`walk` from ``min_accepted`` with all
        of δ; ``"fallback"``: :func:`fallback_walk` over :func:`walk_plan` (half of δ from the
        most confident testable threshold, half from ``min_accepted``). Both keep FWER ≤ δ;
        the fallback walk certifies more often in some settings and covers less on average
        (``bench/b1_walk.py``, BENCHMARKS.md), so it is not the default. ``"tooth"``: the
        fixed walk from :func:`tooth_start` of ``min_accepted`` (the first count with the same
        critical count), all of δ; valid by the same argument as ``"fixed"``, and measured
        slightly better on average (``bench/b1_power.py``, BENCHMARKS.md "B1-walk"), but not
        the default either.
    forecast
        Whether a closed gate forecasts the traces it still needs (:func:`closed_forecast`, a
        simulation of a tenth of a second or so); without it a closed gate has only
        :func:`closed_reason` and ``traces_needed`` None (validity simulations that only need
        the threshold).
    """
    total = len(scores) if n_cal is None else n_cal
    need = n_min(alpha, delta)
    n, k = counts_on_grid(scores, errors, grid)
    if plan == "fixed":
        certified_idx, last_p, n_tested = walk(n, k, alpha, delta, min_accepted)
    elif plan == "tooth":
        certified_idx, last_p, n_tested = walk(n, k, alpha, delta,
                                               tooth_start(min_accepted, alpha, delta))
    elif plan == "fallback":
        certified_idx, last_p, n_tested = fallback_walk(n, k, alpha, delta,
                                                        walk_plan(min_accepted, alpha, delta))
    else:
        raise LearnError("unknown walk plan", plan=plan)
    if certified_idx is not None:
        na, ka = int(n[certified_idx]), int(k[certified_idx])
        return GateResult(
            alpha=alpha, delta=delta, certified=True, threshold=float(grid[certified_idx]),
            n_cal=total, n_accepted=na, disagreements=ka,
            coverage=na / total if total else 0.0, agreement=1.0 - ka / na,
            p_value=last_p, n_min=need, n_tested=n_tested, reason=None, traces_needed=0,
            min_accepted=min_accepted,
        )
    if not forecast:
        return GateResult(
            alpha=alpha, delta=delta, certified=False, threshold=None, n_cal=total,
            n_accepted=0, disagreements=0, coverage=0.0, agreement=None, p_value=None,
            n_min=need, n_tested=n_tested, reason=closed_reason(n, total, alpha, delta),
            traces_needed=None, min_accepted=min_accepted)
    reason, guess = closed_forecast(scores, errors, grid, n, total, alpha, delta, plan=plan)
    return GateResult(
        alpha=alpha, delta=delta, certified=False, threshold=None, n_cal=total,
        n_accepted=0, disagreements=0, coverage=0.0, agreement=None, p_value=None,
        n_min=need, n_tested=n_tested, reason=reason, traces_needed=guess.more,
        min_accepted=min_accepted, traces_low=guess.low, traces_high=guess.high,
    )


def fallback_walk(n: np.ndarray, k: np.ndarray, alpha: float, delta: float,
                  starts: Sequence[tuple[int, float]]) -> tuple[int | None, float | None, int]:
    """The fallback walk over grid counts: (most lenient certified index, its p-value, tests
    run).

    ``starts`` are (accepted count, weight) pairs with Σ weight ≤ 1, fixed before calibration;
    a start puts its weight on the first threshold accepting at least its count. The walk goes
    through the grid from strict to lenient carrying a level ℓ (Wiens' fallback procedure): at
    each threshold ℓ grows by δ·weight; with ℓ > 0 the threshold is tested at level ℓ and
    certified when p ≤ ℓ, else ℓ drops to 0 until the next start adds its weight. A chain that
    passes hands its whole level on, so a start that fails costs only its own weight. One
    start with weight 1 is the fixed-sequence walk of :func:`walk`. FWER ≤ δ·Σ weight:
    ``docs/learning-core.md`` (the walk) has the proof.

    >>> n, k = np.array([100, 200, 600, 800]), np.array([0, 30, 42, 50])
    >>> fallback_walk(n, k, 0.9, 0.05, [(100, 1.0)])[0]  # stops at 30 of 200
    0
    >>> fallback_walk(n, k, 0.9, 0.05, [(100, 0.5), (600, 0.5)])[0]  # restarts at 600
    3
    """
    p = p_value(k, n, alpha)
    weights = np.zeros(len(n))
    for count, weight in starts:
        at = int(np.searchsorted(n, count, side="left"))
        if at < len(n):
            weights[at] += weight
    level, last, tested = 0.0, None, 0
    for j in np.flatnonzero(np.cumsum(weights) > 0):
        level += delta * float(weights[j])
        if level <= 0.0:
            continue
        tested += 1
        if p[j] <= level:
            last = j
        else:
            level = 0.0
    return (None, None, tested) if last is None else (int(last), float(p[last]), tested)


def walk_plan(start: int, alpha: float, delta: float) -> list[tuple[int, float]]:
    """Starts of the gate's fallback walk: half of δ at the most confident testable threshold
    (``n_min`` at δ/2 accepted items) and half at ``start`` (the count predicted on
    validation, fixed before calibration). When the top chain passes up to ``start`` the walk
    goes on from there with the whole δ; when it fails early, ``start`` still has δ/2.

    >>> walk_plan(400, 0.98, 0.05)
    [(183, 0.5), (400, 0.5)]
    """
    top = n_min(alpha, delta / 2)
    return [(top, 0.5), (max(start, top), 0.5)]


def critical_count(m: int | np.ndarray, alpha: float, delta: float) -> np.ndarray:
    """Most disagreements with which a test on m accepted items passes at δ (−1: none).

    >>> critical_count(np.array([149, 150, 235, 236]), 0.98, 0.05).tolist()
    [0, 0, 0, 1]
    """
    m = np.asarray(m)
    c = binom.ppf(delta, m, 1.0 - alpha)
    c = np.where(binom.cdf(c, m, 1.0 - alpha) > delta, c - 1, c)
    return np.where(m >= n_min(alpha, delta), c, -1).astype(np.int64)


def tooth_start(start: int, alpha: float, delta: float) -> int:
    """The smallest count with the same critical count as ``start`` (``plan="tooth"``).

    The critical count c(m) is a step function of the accepted count m, so the pass
    probability of one test is a saw-tooth in m: within a step the same c disagreements are
    allowed among more items, at a threshold where the disagreement rate is higher. Starting
    at the first count of the step instead of ``start`` gives the first test its best chance;
    the walk then goes through ``start`` as before. A function of ``start`` only, so it is
    fixed before calibration like ``start`` itself.

    >>> tooth_start(230, 0.98, 0.05), tooth_start(240, 0.98, 0.05), tooth_start(10, 0.98, 0.05)
    (149, 236, 10)
    """
    c = int(critical_count(start, alpha, delta))
    if c < 0:
        return start
    lo, hi = n_min(alpha, delta) - 1, start  # c(lo) < c ≤ c(hi): c(m) never falls as m grows
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if int(critical_count(mid, alpha, delta)) >= c else (mid, hi)
    return hi


def walk(n: np.ndarray, k: np.ndarray, alpha: float, delta: float, min_accepted: int = 0
         ) -> tuple[int | None, float | None, int]:
    """The fixed-sequence walk over grid counts: (last certified index, its p-value, tests run).

    Thresholds with fewer than max(``n_min``, ``min_accepted``) accepted items are skipped;
    from the first testable one on, the walk certifies while p ≤ δ and stops at the first
    p > δ.
    """
    testable = np.flatnonzero(n >= max(n_min(alpha, delta), min_accepted))
    if testable.size == 0:
        return None, None, 0
    p = p_value(k[testable], n[testable], alpha)
    failed = np.flatnonzero(p > delta)
    n_pass = int(failed[0]) if failed.size else int(testable.size)
    n_tested = min(int(testable.size), n_pass + 1)
    if n_pass == 0:
        return None, None, n_tested
    return int(testable[n_pass - 1]), float(p[n_pass - 1]), n_tested


def closed_forecast(scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, n: np.ndarray,
                    n_cal: int, alpha: float, delta: float, *, plan: str = "fixed"
                    ) -> tuple[str, TracesForecast]:
    """Why a walk certified nothing, and how many more calibration traces it is forecast to
    need (:func:`~.forecast.traces_to_certify`).

    With a number the reason is :func:`closed_reason`'s (``too_few_accepted`` or
    ``insufficient_evidence``); without one it is the forecast's reason for giving none
    (:data:`~.forecast.FORECAST_REASONS`: ``agreement_below_target``, ``too_early_to_tell``,
    ``beyond_horizon``, ``evidence_too_thin``). With no calibration data the answer is
    ``n_min``, the fewest traces a test can pass with.
    """
    from .forecast import TracesForecast, traces_to_certify  # forecast builds on this module

    reason = closed_reason(n, n_cal, alpha, delta)
    if reason == "no_calibration_data":
        return reason, TracesForecast(n_min(alpha, delta), None)
    guess = traces_to_certify(scores, errors, grid, alpha=alpha, delta=delta, n_cal=n_cal,
                              plan=plan)
    return (reason if guess.reason is None else guess.reason), guess


def closed_reason(n: np.ndarray, n_cal: int, alpha: float, delta: float) -> str:
    """Why a walk certified nothing, from the accepted counts alone: ``no_calibration_data``,
    ``too_few_accepted`` (no threshold accepts ``n_min`` items) or ``insufficient_evidence``.

    >>> closed_reason(np.array([10, 40]), 40, 0.95, 0.05)
    'too_few_accepted'
    """
    if n_cal == 0 or int(n.max(initial=0)) == 0:
        return "no_calibration_data"
    return "too_few_accepted" if int(n.max()) < n_min(alpha, delta) else "insufficient_evidence"


def accepted_needed(rate: np.ndarray | float, alpha: float, delta: float) -> np.ndarray:
    """Smallest accepted count m with ``binom.cdf(⌊rate·m⌋, m, ε) ≤ δ``, per rate (< ε).

    Vectorised doubling then bisection; capped at 10⁹ for rates just below ε.
    """
    r = np.atleast_1d(np.asarray(rate, dtype=float))
    cap = 10**9

    def passes(m: np.ndarray) -> np.ndarray:
        return p_value(np.floor(r * m), m, alpha) <= delta

    hi = np.full(r.shape, float(n_min(alpha, delta)))
    while not (ok := passes(hi) | (hi >= cap)).all():
        hi = np.where(ok, hi, np.minimum(hi * 2, cap))
    lo = np.maximum(np.floor(hi / 2), n_min(alpha, delta) - 1)
    lo = np.where(hi <= n_min(alpha, delta), hi - 1, lo)
    while (hi - lo > 1).any():
        mid = np.floor((lo + hi) / 2)
        ok = passes(mid)
        hi = np.where(ok & (hi - lo > 1), mid, hi)
        lo = np.where(~ok & (hi - lo > 1), mid, lo)
    return hi.astype(np.int64)
