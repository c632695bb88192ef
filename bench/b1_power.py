"""B1-power — how far the gate's walk is from what any walk could do, with hindsight bounds.

Same populations and draws as ``bench/b1_walk.py`` (imported from it). Per cell (population,
α, n_cal) and repetition, on the same validation and calibration draws:

- ``old``: ``certify(plan="fixed")``, grid and start from validation (``learn/calibrate.py``);
- ``fallback``: ``certify(plan="fallback")`` on the same grid and start;
- ``tooth``: ``certify(plan="tooth")`` on the same grid and start (``gate.tooth_start``);
- ``beta``: a candidate start design (:func:`beta_start_share`), the fixed walk from it;
- ``oracle1``: the hindsight start tested ONCE at full δ: among 1,000 population quantiles, the
  threshold that maximises P(pass)·coverage, with P(pass) the exact probability that its
  binomial test passes on n_cal i.i.d. draws;
- ``oraclewalk``: the fixed-sequence walk on 200 population quantiles from the start that
  maximises ``forecast.expected_walk`` with the exact P(pass) (it goes on past its first test).

Analytic lines per cell from the population curve, each the larger of two versions: thresholds
fixed in advance (1,000 population quantiles, exact P(pass) with a random count nⱼ) and counts
fixed in advance (the first test on the m most confident of n_cal items, m = n_min..n_cal,
taken to have the population disagreement of the top share m/n_cal: P(pass) =
binom.cdf(c(m), m, r)). cov_j is the share accepted, increasing in j:

- ``P*`` = max over thresholds of P(pass): the certification rate of the best single test.
  A fixed-sequence walk from one start chosen without the calibration draw certifies iff its
  first test passes, so no such walk certifies more often than ``P*``.
- ``C1*`` = max of coverage·P(pass): the expected coverage of the best single test.
- ``U*`` = max over starts j₀ of cov_{j₀}·P(pass_{j₀}) + Σ_{j > j₀} (cov_j − cov_{j−1})·
  min(P(pass_{j₀}), max_{i ≥ j} P(pass_i)) (:func:`walk_bound`): a walk ends at coverage
  ≥ cov_j only if its start passed and so did its first threshold with coverage ≥ cov_j, so
  this bounds the expected certified coverage of every fixed-sequence walk from one start,
  whatever its grid (up to the 1,000-quantile resolution of the start and of the max).

The exact P(pass) of threshold j: nⱼ ~ Binomial(n_cal, cov_j), kⱼ | nⱼ ~ Binomial(nⱼ, r_j),
pass when kⱼ ≤ c(nⱼ) = max{c : binom.cdf(c, nⱼ, ε) ≤ δ}.

    cd bench && nice -n 15 python b1_power.py --reps 200 --n-cal 500 1000 2000 5000

Prints a table and writes bench/results/b1_power.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
from _common import add_common_args, machine
from b1_walk import DELTA, GRID, SHAPES, Population, data_populations, sweep, synthetic
from scipy.stats import betabinom, binom

from tracer_stream.learn.forecast import expected_walk, start_share
from tracer_stream.learn.gate import certify, counts_on_grid, critical_count, threshold_grid, walk

WAYS = ("old", "fallback", "tooth", "beta", "oracle1", "oraclewalk")
FINE = 1000  # population thresholds for the analytic bounds


def pass_probability_exact(cov: np.ndarray, rate: np.ndarray, n_cal: int, alpha: float,
                           delta: float) -> np.ndarray:
    """Exact P(the test at each threshold passes) on n_cal i.i.d. draws of the population."""
    m = np.arange(n_cal + 1)
    crit = critical_count(m, alpha, delta)
    pm = binom.pmf(m[None, :], n_cal, cov[:, None])  # P(nⱼ = m)
    pk = binom.cdf(crit[None, :], m[None, :], rate[:, None])  # P(kⱼ ≤ c(m) | m)
    return np.asarray((pm * pk).sum(axis=1), dtype=float)


def beta_start_share(scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *,
                     alpha: float, delta: float, n_cal: int) -> float:
    """Candidate start (measured, not adopted): like ``forecast.start_share``, but each
    threshold's pass probability is the Beta-binomial predictive of the Jeffreys posterior of
    its validation rate (exact, no normal approximation), at ``round(share·n_cal)`` items."""
    n, k = counts_on_grid(scores, errors, grid)
    share = n / max(len(scores), 1)
    m = np.rint(share * n_cal).astype(np.int64)
    crit = critical_count(m, alpha, delta)
    prob = np.where(crit >= 0, betabinom.cdf(crit, m, k + 0.5, n - k + 0.5), 0.0)
    value, start, _ = expected_walk(share, prob)
    return float(share[start]) if value > 0 else 0.0


def walk_bound(cov: np.ndarray, prob: np.ndarray) -> float:
    """Upper bound of the expected certified coverage of a walk from the best start.

    A walk from start j₀ ends at coverage ≥ cov_j only if its start test passed and so did its
    test at the first of its thresholds with coverage ≥ cov_j, whatever its other thresholds:
    P ≤ min(prob[j₀], max_{i ≥ j} prob[i]). Summed over the coverage steps, maximised over j₀.
    """
    env = np.maximum.accumulate(prob[::-1])[::-1]  # best pass probability at coverage ≥ cov_j
    step = np.diff(np.concatenate([[0.0], cov]))
    later = np.triu(np.ones((len(cov), len(cov)), dtype=bool), 1)
    tail = np.where(later, np.minimum(prob[:, None], env[None, :]) * step[None, :], 0.0)
    return float((cov * prob + tail.sum(axis=1)).max(initial=0.0))


def oracle_plan(pop: Population, alpha: float, n_cal: int) -> dict[str, Any]:
    """The population grid, exact pass probabilities and the hindsight starts."""
    fine = threshold_grid(pop.scores, FINE)
    n, k = counts_on_grid(pop.scores, pop.errors, fine)
    cov, rate = n / len(pop.scores), k / np.maximum(n, 1)
    prob = pass_probability_exact(cov, rate, n_cal, alpha, DELTA)
    grid = threshold_grid(pop.scores, GRID)  # the hindsight walk's thresholds
    gn, gk = counts_on_grid(pop.scores, pop.errors, grid)
    gcov = gn / len(pop.scores)
    gprob = pass_probability_exact(gcov, gk / np.maximum(gn, 1), n_cal, alpha, DELTA)
    _, j_walk, _ = expected_walk(gcov, gprob)
    j_one = int(np.argmax(cov * prob))
    # count starts: the first test at the m-th most confident calibration item (m fixed)
    m = np.arange(n_cal + 1)
    s_desc, curve = pop.truth()
    at = np.clip(np.rint(m / n_cal * len(s_desc)).astype(np.int64) - 1, 0, len(s_desc) - 1)
    cnt_prob = binom.cdf(critical_count(m, alpha, DELTA), m, curve[at])
    cnt_cov = m / n_cal
    return {"grid": grid, "fine": fine,
            "p_star": float(max(prob.max(), cnt_prob.max())),
            "c1_star": float(max((cov * prob)[j_one], (cnt_cov * cnt_prob).max())),
            "u_star": max(walk_bound(cov, prob), walk_bound(cnt_cov, cnt_prob)),
            "j_one": j_one, "j_walk": j_walk}


def truth_of(s_desc: np.ndarray, rate: np.ndarray, eps: float, threshold: float | None
             ) -> tuple[bool, float, bool]:
    """(certified, population coverage, violation) of a deployed threshold."""
    if threshold is None:
        return False, 0.0, False
    m = int(np.searchsorted(-s_desc, -threshold, side="right"))
    return True, m / len(s_desc), bool(m and rate[m - 1] > eps)


def run_cell(pop: Population, alpha: float, n_cal: int, reps: int, seed: int
             ) -> dict[str, Any]:
    s_desc, rate = pop.truth()
    eps = 1.0 - alpha
    ok = rate <= eps
    oracle = (int(np.flatnonzero(ok)[-1]) + 1) / len(s_desc) if ok.any() else 0.0
    plan = oracle_plan(pop, alpha, n_cal)
    pgrid = plan["grid"]
    rng = np.random.default_rng(seed)  # the draws of b1_walk.py for the same cell and seed
    res: dict[str, list[tuple[bool, float, bool]]] = {w: [] for w in WAYS}
    for _ in range(reps):
        val = rng.integers(0, len(pop.scores), n_cal)
        cal = rng.integers(0, len(pop.scores), n_cal)
        vs, ve = pop.scores[val], pop.errors[val]
        cs, ce = pop.scores[cal], pop.errors[cal]
        grid = threshold_grid(vs, GRID)
        start = round(start_share(vs, ve, grid, alpha=alpha, delta=DELTA, n_cal=n_cal) * n_cal)
        beta_start = round(beta_start_share(vs, ve, grid, alpha=alpha, delta=DELTA,
                                            n_cal=n_cal) * n_cal)
        for way, walk_plan, begin in (("old", "fixed", start), ("fallback", "fallback", start),
                                      ("tooth", "tooth", start), ("beta", "fixed", beta_start)):
            out = certify(cs, ce, grid, alpha=alpha, delta=DELTA, min_accepted=begin,
                          plan=walk_plan)
            res[way].append(truth_of(s_desc, rate, eps, out.threshold))
        j1, fine = plan["j_one"], plan["fine"]
        one, _, _ = walk(*counts_on_grid(cs, ce, fine[j1:j1 + 1]), alpha, DELTA)
        res["oracle1"].append(truth_of(s_desc, rate, eps, None if one is None else fine[j1]))
        jw = plan["j_walk"]
        last, _, _ = walk(*counts_on_grid(cs, ce, pgrid[jw:]), alpha, DELTA)
        res["oraclewalk"].append(truth_of(s_desc, rate, eps,
                                          None if last is None else pgrid[jw + last]))
    row: dict[str, Any] = {"population": pop.name, "alpha": alpha, "n_cal": n_cal,
                           "reps": reps, "oracle": oracle,
                           **{k: plan[k] for k in ("p_star", "c1_star", "u_star")}}
    for way, rs in res.items() if reps else ():
        row[f"{way}_certified"] = statistics.fmean(r[0] for r in rs)
        row[f"{way}_coverage"] = statistics.fmean(r[1] for r in rs)
        row[f"{way}_violation"] = statistics.fmean(r[2] for r in rs)
    return row


def print_row(r: dict[str, Any]) -> None:
    ways = WAYS if r["reps"] else ()
    print(f"{r['population']:18} {r['alpha']:>4} {r['n_cal']:>5} {100 * r['oracle']:>5.1f} "
          f"{100 * r['p_star']:>5.1f} {100 * r['c1_star']:>5.1f} {100 * r['u_star']:>5.1f} | "
          + " | ".join(f"{100 * r[f'{w}_certified']:>5.1f} {100 * r[f'{w}_coverage']:>5.1f} "
                       f"{100 * r[f'{w}_violation']:>4.1f}" for w in ways), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--reps", type=int, default=200,
                        help="repetitions per cell (0: the analytic lines only)")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.90, 0.95, 0.98])
    parser.add_argument("--n-cal", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--no-data", action="store_true", help="synthetic populations only")
    parser.add_argument("--pop-embedder", default="static",
                        help="embedder of the data populations (default: static, fast)")
    parser.add_argument("--populations", nargs="+", default=None,
                        help="only these populations (names as printed)")
    parser.add_argument("--out", default="b1_power.json")
    args = parser.parse_args()
    started, t0 = machine(), time.perf_counter()
    pops = [synthetic(name, f, 200_000, i) for i, (name, f) in enumerate(SHAPES.items())]
    if not args.no_data:
        pops += data_populations(args.data_dir, args.pop_embedder, seed=0)
    if args.populations:
        pops = [p for p in pops if p.name in args.populations]
    print(f"{'population':18} {'α':>4} {'n_cal':>5} {'orcl':>5} {'P*':>5} {'C1*':>5} "
          f"{'U*':>5} | " + " | ".join(f"{w}: cert cov viol" for w in WAYS))
    sweep(run_cell, print_row, pops, args, args.out, started, t0)


if __name__ == "__main__":
    main()
