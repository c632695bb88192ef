"""B1-walk — the gate's walk alone: validity and power of the old and new walk, same draws.

A population is a set of (acceptor score, disagreement) pairs: synthetic ones (score uniform,
disagreement probability a fixed function of the score) and, per data set and teacher, the
cross-fitted scores of a nearest-centroid surrogate on the ``static`` embeddings (one
surrogate per population, fitted once). Each repetition draws a validation set and a
calibration set i.i.d. from the population, fixes the grid and the walk's start(s) on the
validation set (as ``learn/calibrate.py`` does), and runs the old walk (``plan="fixed"``:
one start, fixed sequence) and the new one (``plan="fallback"``,
:func:`tracer_stream.learn.gate.fallback_walk`) on the same calibration draw. The truth at a
threshold is the population's agreement above it; the oracle is the largest population coverage
with agreement ≥ α.

    nice -n 10 python bench/b1_walk.py --reps 200
    nice -n 10 python bench/b1_walk.py --forecast --reps 100   # the forecast check

Prints a table and writes bench/results/b1_walk.json (b1_forecast.json).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import add_common_args, bench_cache, embeddings, load_dataset, machine, write_json
from scipy.stats import beta

from tracer_stream.embed import load_embedder
from tracer_stream.learn.forecast import pass_probability, start_share, traces_to_certify
from tracer_stream.learn.gate import (
    GateResult,
    certify,
    counts_on_grid,
    n_min,
    threshold_grid,
    walk,
)

DELTA = 0.05
GRID = 200


@dataclass(frozen=True)
class Population:
    name: str
    scores: np.ndarray
    errors: np.ndarray

    def truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores sorted descending and the population disagreement rate of each top set."""
        order = np.argsort(-self.scores, kind="stable")
        s = self.scores[order]
        rate = np.cumsum(self.errors[order]) / np.arange(1, len(s) + 1)
        return s, rate


def synthetic(name: str, shape: Callable[[np.ndarray], np.ndarray], size: int,
              seed: int) -> Population:
    rng = np.random.default_rng(seed)
    u = rng.random(size)
    return Population(name, u, rng.random(size) < shape(u))


SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "syn-steep": lambda u: 0.30 * (1 - u) ** 3,
    "syn-linear": lambda u: 0.12 * (1 - u),
    "syn-floor2%": lambda u: 0.02 + 0.25 * (1 - u) ** 2,
    "syn-bumpy": lambda u: 0.10 * (1 - u) ** 2 + 0.04 * (np.sin(40 * u) > 0.7),
}


def data_populations(data_dir: str, embedder_spec: str, seed: int) -> list[Population]:
    """Cross-fitted surrogate scores per data set and teacher (cached under the bench cache)."""
    cache = bench_cache() / f"b1_walk_pops_{embedder_spec}_{seed}.npz"
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return [Population(str(name), z[f"s{i}"], z[f"e{i}"])
                for i, name in enumerate(z["names"])]
    pops = _fit_populations(data_dir, embedder_spec, seed)
    np.savez(cache, names=np.array([p.name for p in pops]),
             **{f"s{i}": p.scores for i, p in enumerate(pops)},
             **{f"e{i}": p.errors for i, p in enumerate(pops)})
    return pops


def _fit_populations(data_dir: str, embedder_spec: str, seed: int) -> list[Population]:
    emb = load_embedder(embedder_spec)
    out = []
    for name, drop_oos in (("banking77", False), ("clinc150", True), ("mnli_subset", False)):
        ds = load_dataset(data_dir, name)
        keep = ds.gold != "oos" if drop_oos else np.ones(len(ds.texts), bool)
        X, gold = embeddings(ds, emb)[keep], ds.gold[keep]
        rng = np.random.default_rng(seed)
        flip = rng.random(len(gold)) < 0.08
        noisy = np.where(flip, rng.choice(np.unique(gold), len(gold)), gold)
        for teacher, y in (("gold", gold), ("noisy8", noisy)):
            score, pred = _cross_fitted_centroids(X, y, rng)
            out.append(Population(f"{name}/{teacher}", score, pred != y))
    return out


def _cross_fitted_centroids(X: np.ndarray, y: np.ndarray, rng: np.random.Generator
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Two-fold nearest-centroid surrogate: (top-1 minus top-2 cosine, predicted label)."""
    fold = rng.random(len(y)) < 0.5
    score, pred = np.empty(len(y)), np.empty(len(y), dtype=y.dtype)
    for held in (fold, ~fold):
        classes = np.unique(y[~held])
        cent = np.vstack([X[~held][y[~held] == c].mean(axis=0) for c in classes])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        sims = X[held] @ cent.T
        top = np.sort(sims, axis=1)[:, -2:]
        score[held], pred[held] = top[:, 1] - top[:, 0], classes[sims.argmax(axis=1)]
    return score, pred


def gate(pop: Population, val: np.ndarray, cal: np.ndarray, alpha: float, plan: str
         ) -> tuple[GateResult, np.ndarray]:
    """The gate as ``learn/calibrate.py`` runs it: grid and start from the validation draw,
    the walk on the calibration draw."""
    vs, ve = pop.scores[val], pop.errors[val]
    grid = threshold_grid(vs, GRID)
    share = start_share(vs, ve, grid, alpha=alpha, delta=DELTA, n_cal=len(cal))
    res = certify(pop.scores[cal], pop.errors[cal], grid, alpha=alpha, delta=DELTA,
                  min_accepted=round(share * len(cal)), plan=plan)
    return res, grid


def run_cell(pop: Population, alpha: float, n_cal: int, reps: int, seed: int
             ) -> dict[str, Any]:
    s_desc, rate = pop.truth()
    eps = 1.0 - alpha
    ok = rate <= eps
    oracle = (int(np.flatnonzero(ok)[-1]) + 1) / len(s_desc) if ok.any() else 0.0
    rng = np.random.default_rng(seed)
    res: dict[str, list[tuple[bool, float, bool]]] = {"old": [], "new": []}
    for _ in range(reps):
        val = rng.integers(0, len(pop.scores), n_cal)
        cal = rng.integers(0, len(pop.scores), n_cal)
        for key, plan in (("old", "fixed"), ("new", "fallback")):
            out, _ = gate(pop, val, cal, alpha, plan)
            if out.threshold is None:
                res[key].append((False, 0.0, False))
                continue
            m = int(np.searchsorted(-s_desc, -out.threshold, side="right"))
            res[key].append((True, m / len(s_desc), bool(m and rate[m - 1] > eps)))
    row: dict[str, Any] = {"population": pop.name, "alpha": alpha, "n_cal": n_cal,
                           "reps": reps, "oracle": oracle}
    for key, rs in res.items():
        row[f"{key}_certified"] = statistics.fmean(r[0] for r in rs)
        row[f"{key}_coverage"] = statistics.fmean(r[1] for r in rs)
        row[f"{key}_violation"] = statistics.fmean(r[2] for r in rs)
    return row


LADDER = 2.0 ** (np.arange(-4, 5) / 2)  # 0.25 .. 4 times the forecast


def old_traces_to_certify(scores: np.ndarray, errors: np.ndarray, grid: np.ndarray, *,
                          alpha: float, delta: float, n_cal: int) -> int | None:
    """The forecast before the predictive simulation (kept here only to compare): the
    smallest size on a geometric ladder up to 100·n at which the likeliest grid test passes
    with probability ≥ 1/2 (:func:`~tracer_stream.learn.forecast.pass_probability`), minus n;
    None when no rate is (credibly, 95% Jeffreys) below ε or beyond the ladder."""
    n, k = counts_on_grid(scores, errors, grid)
    eps = 1.0 - alpha
    big = n >= 1.0 / eps
    usable = big if big.any() else n > 0
    if not (usable & (k < eps * n)).any():
        return None
    upper = np.where(usable, beta.ppf(0.95, k + 0.5, n - k + 0.5), 1.0)
    if not (upper < eps).any():
        return None
    sizes = np.unique(np.rint(max(n_cal, 1) * np.geomspace(1.0, 100.0, 200)).astype(int))
    floor = n_min(alpha, delta)

    def prob(size: int) -> float:
        share, p = pass_probability(scores, errors, grid, alpha=alpha, delta=delta, n_cal=size)
        return float(p[share * size >= floor].max(initial=0.0))

    lo, hi = -1, len(sizes) - 1
    if prob(int(sizes[hi])) < 0.5:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if prob(int(sizes[mid])) >= 0.5:
            hi = mid
        else:
            lo = mid
    return max(int(sizes[hi]) - n_cal, 1)


def opens(pop: Population, val: np.ndarray, cal: np.ndarray, alpha: float) -> bool:
    """Whether the default gate (grid and start from ``val``) certifies on ``cal`` (the walk
    alone, without the closed gate's forecast)."""
    vs, ve = pop.scores[val], pop.errors[val]
    grid = threshold_grid(vs, GRID)
    share = start_share(vs, ve, grid, alpha=alpha, delta=DELTA, n_cal=len(cal))
    n, k = counts_on_grid(pop.scores[cal], pop.errors[cal], grid)
    return walk(n, k, alpha, DELTA, round(share * len(cal)))[0] is not None


def grown(pop: Population, val: np.ndarray, cal: np.ndarray, extra_val: np.ndarray,
          extra_cal: np.ndarray, alpha: float) -> Callable[[int], bool]:
    """Whether the gate is open when the draws grow by their first m extra items (cached)."""

    @functools.cache
    def open_at(m: int) -> bool:
        return opens(pop, np.r_[val, extra_val[:m]], np.r_[cal, extra_cal[:m]], alpha)

    return open_at


def forecast_cell(pop: Population, alpha: float, n: int, reps: int, seed: int,
                  max_total: int) -> dict[str, Any]:
    """Subsampling check of the traces-needed forecast (default walk), old and new on the
    same draws. At n traces (closed gate) each forecasts N or refuses; the same draws then
    grow (validation and calibration alike). A hit: the first f on :data:`LADDER` at which
    the gate is open at n + f·N is in [1/2, 2]. The new forecast's range is checked too: the
    first size on a geometric ladder (the forecast's own, n/50 … 100·n, up to ``max_total``)
    at which the gate is open, against [low, high]."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = defaultdict(int)
    checks: dict[str, list[tuple[int, float | None]]] = {"old": [], "new": []}
    ranges: list[tuple[int | None, int | None, int | None]] = []  # (low, high, first opened)
    seconds: list[float] = []
    fine = np.unique(np.rint(np.geomspace(n / 50, 100 * n, 32)).astype(int))
    fine = fine[n + fine <= max_total]
    for _ in range(reps):
        val = rng.integers(0, len(pop.scores), n)
        cal = rng.integers(0, len(pop.scores), n)
        vs, ve = pop.scores[val], pop.errors[val]
        grid = threshold_grid(vs, GRID)
        start = round(start_share(vs, ve, grid, alpha=alpha, delta=DELTA, n_cal=n) * n)
        cs, ce = pop.scores[cal], pop.errors[cal]
        if certify(cs, ce, grid, alpha=alpha, delta=DELTA, min_accepted=start).certified:
            counts["open_already"] += 1
            continue
        counts["closed"] += 1
        t0 = time.perf_counter()
        new = traces_to_certify(cs, ce, grid, alpha=alpha, delta=DELTA, n_cal=n)
        seconds.append(time.perf_counter() - t0)
        said = {"old": old_traces_to_certify(cs, ce, grid, alpha=alpha, delta=DELTA, n_cal=n),
                "new": new.more}
        counts[f"new_refused:{new.reason}" if new.more is None else "new_number"] += 1
        counts["old_refused" if said["old"] is None else "old_number"] += 1
        top = max([int(fine[-1]) if fine.size else 0]
                  + [4 * m for m in said.values() if m is not None and n + 4 * m <= max_total])
        open_at = grown(pop, val, cal, rng.integers(0, len(pop.scores), top),
                        rng.integers(0, len(pop.scores), top), alpha)
        for key, more in said.items():
            if more is None:
                continue
            if n + 4 * more > max_total:
                counts[f"{key}_too_far_to_check"] += 1
                continue
            first = next((float(f) for f in LADDER if open_at(round(f * more))), None)
            checks[key].append((more, first))
        if new.low is not None:
            ranges.append((new.low, new.high,
                           next((int(x) for x in fine if open_at(int(x))), None)))
    row: dict[str, Any] = {"population": pop.name, "alpha": alpha, "n": n, "reps": reps,
                           **dict(counts), "checks": checks, "ranges": ranges,
                           "forecast_seconds_median": statistics.median(seconds)
                           if seconds else None}
    for key, cs_ in checks.items():
        row[f"{key}_checked"] = len(cs_)
        row[f"{key}_hits"] = sum(f is not None and 0.5 <= f <= 2.0 for _, f in cs_)
    known = [(lo, hi, x) for lo, hi, x in ranges if x is not None or hi is None
             or n + hi <= max_total]
    row["range_checked"] = len(known)
    row["range_inside"] = sum(
        (x is None and hi is None) or (x is not None and lo <= x and (hi is None or x <= hi))
        for lo, hi, x in known)
    row["range_below"] = sum(x is not None and x < lo for lo, _, x in known)
    return row


def print_row(r: dict[str, Any]) -> None:
    print(f"{r['population']:22} {r['alpha']:>5} {r['n_cal']:>5} {r['reps']:>4} "
          f"{100 * r['oracle']:>6.1f} | "
          + " | ".join(f"{100 * r[f'{s}_certified']:>5.1f} {100 * r[f'{s}_coverage']:>5.1f} "
                       f"{100 * r[f'{s}_violation']:>4.1f}" for s in ("old", "new")),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.90, 0.95, 0.98])
    parser.add_argument("--n-cal", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--no-data", action="store_true", help="synthetic populations only")
    parser.add_argument("--pop-embedder", default="static",
                        help="embedder of the data populations (default: static, fast)")
    parser.add_argument("--populations", nargs="+", default=None,
                        help="only these populations (names as printed)")
    parser.add_argument("--forecast", action="store_true",
                        help="check the traces-needed forecast instead of the walks")
    parser.add_argument("--forecast-n", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--forecast-out", default="b1_forecast.json",
                        help="result file of --forecast (under bench/results)")
    parser.add_argument("--max-total", type=int, default=40_000,
                        help="forecasts beyond this many traces are not checked")
    args = parser.parse_args()
    started, t0 = machine(), time.perf_counter()
    pops = [synthetic(name, f, 200_000, i) for i, (name, f) in enumerate(SHAPES.items())]
    if not args.no_data:
        pops += data_populations(args.data_dir, args.pop_embedder, seed=0)
    if args.populations:
        pops = [p for p in pops if p.name in args.populations]
    if args.forecast:
        cells = []
        for pi, pop in enumerate(pops):
            for alpha in args.alphas:
                for n in args.forecast_n:
                    cells.append(forecast_cell(pop, alpha, n, args.reps, pi * 1000 + n,
                                               args.max_total))
                    print({k: v for k, v in cells[-1].items()
                           if k not in ("checks", "ranges")}, flush=True)
                    path = write_json(args.forecast_out, {
                        "command": "python " + " ".join(sys.argv), "machine": started,
                        "delta": DELTA, "seconds": round(time.perf_counter() - t0, 1),
                        "cells": cells})
        print(f"wrote {path}")
        return
    print(f"{'population':22} {'α':>5} {'n_cal':>5} {'reps':>4} {'oracle':>6} | "
          "old: cert%  cov% viol% | new: cert%  cov% viol%")
    sweep(run_cell, print_row, pops, args, "b1_walk.json", started, t0)


def sweep(cell: Callable[..., dict[str, Any]], show: Callable[[dict[str, Any]], None],
          pops: list[Population], args: argparse.Namespace, out: str, started: dict[str, Any],
          t0: float) -> None:
    """Run ``cell`` for every n_cal × population × α of ``args``, print each row with
    ``show`` and rewrite bench/results/``out`` after each (a long run keeps what it did)."""
    rows: list[dict[str, Any]] = []
    for n_cal in args.n_cal:
        for pi, pop in enumerate(pops):
            for alpha in args.alphas:
                rows.append(cell(pop, alpha, n_cal, args.reps, seed=pi * 1000 + n_cal))
                show(rows[-1])
                path = write_json(out, {
                    "command": "python " + " ".join(sys.argv), "machine": started,
                    "delta": DELTA, "seconds": round(time.perf_counter() - t0, 1),
                    "cells": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
