"""B7 — the live monitor: detection at every version age, false alarms, the suspicion boost.

Simulated audited handled requests (x = 1 when surrogate and teacher disagree), α = 0.95,
δ = 0.05, every stream independent. The monitor under test is the library's
(:func:`tracer_stream.learn.monitor.advance`, the vectorised core of
``LiveMonitor.update_many``); the baseline is the previous monitor (the average of five
fixed-bet processes ∏(1 + β(x − ε)), β·ε ∈ {0.02, 0.05, 0.1, 0.25, 0.5}, at the task's δ),
measured on the same streams in the same run.

1. ``age``: the version served ``age`` audited requests at disagreement 0.03, then the rate
   jumps to 0.10 or 0.25; median audited requests from the change to the alarm, for the new
   monitor at δ and at the deployment budgets δₖ = δ·6/(π²k²) (k-th deployment of a task), and
   for the baseline. Alarms before the change are false alarms at 0.03.
2. ``null``: false alarms within ``--horizon`` audited requests at disagreement exactly
   1 − α = 0.05 (the worst case the guarantee covers) and at 0.03.
3. ``tradeoff``: detection delays and false alarms (within ``--tradeoff-horizon``) for other
   margins κ of the plug-in bets (the speed/safety curve).
4. ``pipeline``: the audit rate follows the suspicion rule
   (:func:`tracer_stream.learn.monitor.suspicion_audit_rate`, ρ = 0.02, cap 0.25) after every
   audited request. Traffic: 80% of requests handled; one intent, 19% of handled traffic, has
   a fraction f of its inputs relabelled by the teacher after the change, so handled
   disagreement goes from 0.03 to 0.03 + 0.19·0.97·f (f = 0.3: agreement 0.915). The version is
   1,000 audited requests old at the change. Requests between audited handled requests are
   geometric with mean 1/(0.8·rate); LLM calls = deferred requests + audited handled ones.

    nice -n 10 python bench/b7_monitor.py --skip tradeoff pipeline   # 1,000 runs per cell
    nice -n 10 python bench/b7_monitor.py --skip age null pipeline
    nice -n 10 python bench/b7_monitor.py --skip age null tradeoff
    nice -n 10 python bench/b7_monitor.py --runs 200                 # quick look, all parts

Prints tables and writes bench/results/b7_monitor[_runs].json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from _common import machine, write_json

from tracer_stream.learn import spend_delta
from tracer_stream.learn.monitor import (
    COMPONENTS,
    RAMP,
    UNGATED,
    WINDOWS,
    Bet,
    advance,
    deployment_delta,
    log_mix,
    suspicion_audit_rate,
    suspicion_log_paths,
)

ALPHA, DELTA = 0.95, 0.05
EPS = 1.0 - ALPHA
AGES = (0, 2000, 5000, 20000)
DEPLOYMENTS = (1, 2, 5, 10, 20)
CHUNK = 250  # streams simulated together
BLOCK = 1000  # steps per vectorised block (bounded memory; lets a cell stop early)
Spending = Callable[[float, int], float]


class Monitor:
    """A monitor simulated on R streams at once, block by block: the library's
    (:func:`tracer_stream.learn.monitor.advance`) with the given betting processes."""

    def __init__(self, components: Sequence[Bet] = COMPONENTS) -> None:
        self.components = tuple(components)

    def start(self, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros((len(self.components), runs)), np.zeros((runs, 0)), np.zeros(runs)

    def step(self, state: tuple[np.ndarray, np.ndarray, np.ndarray], flags: np.ndarray
             ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        """New state, the log-wealth (R, T) and the log-suspicion (R, T) after each flag."""
        log_w0, recent, log_s0 = state
        log_w = advance(log_w0, recent, flags, EPS, self.components, log_s0)
        log_s = suspicion_log_paths(flags, ALPHA, log_s0)
        recent = np.concatenate([recent, flags], axis=1)[:, -max(WINDOWS):]
        return (log_w[:, :, -1], recent, log_s[:, -1]), log_mix(log_w, self.components), log_s


PREVIOUS = Monitor(UNGATED)
"""The previous monitor: every bet always on, equal weights, δₖ = δ·6/(π²k²)."""
NEW = Monitor()


def blocks(rng: np.random.Generator, runs: int, rates: np.ndarray, monitor: Monitor
           ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(offset, flags, log-wealth, log-suspicion) of successive blocks of ``runs`` streams;
    the consumer stops early by breaking out."""
    state = monitor.start(runs)
    for t0 in range(0, rates.size, BLOCK):
        flags = (rng.random((runs, min(BLOCK, rates.size - t0))) < rates[t0:t0 + BLOCK]
                 ).astype(float)
        state, log_w, log_s = monitor.step(state, flags)
        yield t0, flags, log_w, log_s


def crossings(rng: np.random.Generator, runs: int, rates: np.ndarray, monitor: Monitor,
              levels: Sequence[float]) -> np.ndarray:
    """(L, R): 1-based step of the first log-wealth ≥ each level (inf: never)."""
    out = []
    for start in range(0, runs, CHUNK):
        first = np.full((len(levels), min(CHUNK, runs - start)), np.inf)
        for t0, _, log_w, _ in blocks(rng, first.shape[1], rates, monitor):
            for i, level in enumerate(levels):
                hit = log_w >= level
                new = hit.any(axis=1) & np.isinf(first[i])
                first[i, new] = t0 + hit[new].argmax(axis=1) + 1
            if np.isfinite(first).all():
                break
        out.append(first)
    return np.concatenate(out, axis=1)


def summarise(first: np.ndarray, age: int) -> dict[str, Any]:
    """False alarms before the change and the median delay after it (runs without a false
    alarm; inf when fewer than half detected within the horizon)."""
    false_alarm = first <= age
    delay = first[~false_alarm] - age
    return {"false_alarms": int(false_alarm.sum()), "runs": int(first.size),
            "median": float(np.median(delay)) if delay.size else math.nan,
            "p90": float(np.quantile(delay, 0.9)) if delay.size else math.nan,
            "detected": float(np.isfinite(delay).mean()) if delay.size else math.nan}


def levels_for(spend: Spending, ks: Sequence[int]) -> list[float]:
    """log(1/δ) and log(1/δₖ) for each k."""
    return [math.log(1.0 / DELTA)] + [math.log(1.0 / spend(DELTA, k)) for k in ks]


def age_cells(rng: np.random.Generator, runs: int, post: int) -> list[dict[str, Any]]:
    cells = []
    for age in AGES:
        for p1 in (0.10, 0.25):
            rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
            seed = int(rng.integers(2**32))
            t0 = time.perf_counter()
            cell: dict[str, Any] = {"age": age, "p1": p1, "post": post}
            for name, monitor, spend in (("previous", PREVIOUS, spend_delta),
                                         ("new", NEW, deployment_delta)):
                first = crossings(np.random.default_rng(seed), runs, rates, monitor,
                                  levels_for(spend, DEPLOYMENTS))
                cell[name] = summarise(first[0], age)
                cell[f"{name}_k"] = {k: summarise(first[i + 1], age)
                                     for i, k in enumerate(DEPLOYMENTS)}
            cell["seconds"] = round(time.perf_counter() - t0, 1)
            cells.append(cell)
            print(f"age {age:>6} 0.03->{p1:.2f}: k={DEPLOYMENTS} previous "
                  f"{[cell['previous_k'][k]['median'] for k in DEPLOYMENTS]} new "
                  f"{[cell['new_k'][k]['median'] for k in DEPLOYMENTS]} false alarms "
                  f"{cell['previous']['false_alarms']} / {cell['new']['false_alarms']} "
                  f"({cell['seconds']} s)", flush=True)
    return cells


def null_cells(rng: np.random.Generator, runs: int, horizon: int,
               monitors: dict[str, tuple[Monitor, Spending]], ks: Sequence[int] = ()
               ) -> list[dict[str, Any]]:
    """Share of runs that ever alarm within ``horizon`` at δ and at each δₖ; ``total`` sums
    the shares over k (the union bound over deployments), next to Σ δₖ."""
    cells = []
    for p in (0.05, 0.03):
        seed = int(rng.integers(2**32))
        for name, (monitor, spend) in monitors.items():
            first = crossings(np.random.default_rng(seed), runs, np.full(horizon, p), monitor,
                              levels_for(spend, ks))
            alarmed = (first <= horizon).mean(axis=1)
            cell = {"p": p, "monitor": name, "horizon": horizon, "runs": runs,
                    "delta": float(alarmed[0]),
                    "delta_k": {k: float(alarmed[i + 1]) for i, k in enumerate(ks)},
                    "budget_k": {k: spend(DELTA, k) for k in ks},
                    "total": float(alarmed[1:].sum()),
                    "total_budget": float(sum(spend(DELTA, k) for k in ks))}
            cells.append(cell)
            print(f"null p={p} {name}: at delta {cell['delta']:.3f}, sum over k "
                  f"{cell['total']:.4f} (budget {cell['total_budget']:.4f}) "
                  f"{ {k: cell['delta_k'][k] for k in DEPLOYMENTS if k in ks} }", flush=True)
    return cells


DESIGNS = {
    "previous: always on, equal weights": UNGATED,
    "gated, equal weights": tuple(Bet(c.window, c.kappa, c.gate) for c in COMPONENTS),
    "always on, default weights": tuple(Bet(c.window, c.kappa, 0.0, c.weight)
                                        for c in COMPONENTS),
    "default (gated, weighted)": COMPONENTS,
    "gated at e^3, weighted": tuple(Bet(c.window, c.kappa, c.gate and 3.0, c.weight)
                                    for c in COMPONENTS),
}


def tradeoff_cells(rng: np.random.Generator, runs: int, horizon: int, post: int
                   ) -> list[dict[str, Any]]:
    cells = []
    ks = (1, 10)
    for name, components in DESIGNS.items():
        monitor = Monitor(components)
        null = null_cells(rng, runs, horizon, {name: (monitor, deployment_delta)}, ks=())
        delays = {}
        for age in (0, 5000):  # 5,000: past the longest window
            for p1 in (0.10, 0.25):
                rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
                first = crossings(rng, runs, rates, monitor, levels_for(deployment_delta, ks))
                for i, k in enumerate(ks):
                    delays[f"{age}:{p1}:k{k}"] = summarise(first[i + 1], age)
        cells.append({"design": name, "components": [vars(c) for c in components],
                      "false_alarm_005": next(c["delta"] for c in null if c["p"] == 0.05),
                      "false_alarm_003": next(c["delta"] for c in null if c["p"] == 0.03),
                      "delays": delays})
        print(f"{name}: {({k: v['median'] for k, v in delays.items()})}", flush=True)
    return cells


BOOSTS = {  # name: (monitor, spending, ramp, cap); ramp 0: no boost
    "previous monitor, previous boost (x evidence, cap 0.25)": (PREVIOUS, spend_delta, 1.0, 0.25),
    "new monitor, no boost": (NEW, deployment_delta, 0.0, 0.0),
    "new monitor, previous boost (x evidence, cap 0.25)": (NEW, deployment_delta, 1.0, 0.25),
    f"new monitor, new boost (x evidence^{RAMP:g}, cap 1)": (NEW, deployment_delta, RAMP, 1.0),
}


def pipeline_cells(rng: np.random.Generator, runs: int, age: int, post: int,
                   boosts: Sequence[str]) -> list[dict[str, Any]]:
    base, handled = 0.02, 0.8
    cells = []
    for f in (0.0, 0.1, 0.3, 1.0, None):  # None: disagreement exactly ε (worst case allowed)
        p1 = EPS if f is None else 0.03 + 0.19 * 0.97 * f
        rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
        seed = int(rng.integers(2**32))
        for name in boosts:
            monitor, spend, ramp, cap = BOOSTS[name]
            level = math.log(1.0 / spend(DELTA, 1))
            rule = np.vectorize(lambda s, ramp=ramp, cap=cap: suspicion_audit_rate(
                s, base, cap, ramp), otypes=[float])
            r = np.random.default_rng(seed)
            requests, audits, alarmed, full = [], [], [], []
            for start in range(0, runs, CHUNK):
                n = min(CHUNK, runs - start)
                req, aud, top = np.zeros(n), np.zeros(n), np.zeros(n)
                first = np.full(n, np.inf)
                evidence_before = np.zeros(n)  # log-evidence after the previous audit
                for t0, flags, log_w, log_s in blocks(r, n, rates, monitor):
                    evidence = np.maximum(log_w, log_s)
                    before = np.c_[evidence_before, evidence[:, :-1]]
                    evidence_before = evidence[:, -1]
                    # the rate of an audit is chosen from the monitor after the previous one
                    audit_rate = (rule(np.exp(np.minimum(before, 50.0))) if ramp
                                  else np.full(before.shape, base))
                    gaps = r.geometric(handled * audit_rate)  # requests up to this audit
                    hit = log_w >= level
                    new = hit.any(axis=1) & np.isinf(first)
                    first[new] = t0 + hit[new].argmax(axis=1) + 1
                    step = t0 + np.arange(1, flags.shape[1] + 1)
                    counted = (step[None, :] > age) & (step[None, :] <= first[:, None])
                    req += (gaps * counted).sum(axis=1)
                    aud += counted.sum(axis=1)
                    top += (gaps * counted * (audit_rate >= 0.5)).sum(axis=1)
                    if t0 + flags.shape[1] > age and np.isfinite(first).all():
                        break
                keep = first > age  # runs with a false alarm before the change: see ``null``
                requests += req[keep].tolist()
                audits += aud[keep].tolist()
                full += top[keep].tolist()
                alarmed += np.isfinite(first[keep]).tolist()
            req_a, aud_a, hit_a = np.array(requests), np.array(audits), np.array(alarmed)
            llm = (1.0 - handled) * req_a + aud_a
            cell = {"f": f, "p1": p1, "agreement": 1.0 - p1, "monitor": name,
                    "runs": len(req_a), "detected": float(hit_a.mean()),
                    "median_requests": _median(req_a[hit_a]),
                    "median_audits": _median(aud_a[hit_a]),
                    "median_llm_calls": _median(llm[hit_a]),
                    "audit_rate_until_alarm": float(aud_a.sum() / (handled * req_a.sum())),
                    "llm_calls_per_request_until_alarm": float(llm.sum() / req_a.sum()),
                    "share_of_requests_at_rate_ge_half": float(sum(full) / req_a.sum())}
            cells.append(cell)
            print(f"{'eps' if f is None else f} {name}: detected {cell['detected']:.3f} "
                  f"median requests {cell['median_requests']} audits {cell['median_audits']} "
                  f"LLM calls {cell['median_llm_calls']} audit rate "
                  f"{cell['audit_rate_until_alarm']:.4f} LLM/request "
                  f"{cell['llm_calls_per_request_until_alarm']:.4f} at >=0.5 "
                  f"{cell['share_of_requests_at_rate_ge_half']:.4f}", flush=True)
    return cells


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


PARTS = ("age", "null", "tradeoff", "pipeline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--post", type=int, default=25000,
                        help="audited requests simulated after the change")
    parser.add_argument("--horizon", type=int, default=20000,
                        help="audited requests of a false-alarm run")
    parser.add_argument("--tradeoff-horizon", type=int, default=5000,
                        help="audited requests of a false-alarm run in the trade-off curve")
    parser.add_argument("--pipeline-post", type=int, default=10000,
                        help="audited requests simulated after the change in the pipeline")
    parser.add_argument("--boosts", nargs="*", type=int, default=list(range(len(BOOSTS))),
                        help="which pipeline configurations (indices into BOOSTS)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[], choices=PARTS)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    out: dict[str, Any] = {"machine": machine(), "alpha": ALPHA, "delta": DELTA,
                           "runs": args.runs, "argv": sys.argv[1:]}
    if "age" not in args.skip:
        out["age"] = age_cells(rng, args.runs, args.post)
    if "null" not in args.skip:
        out["null"] = null_cells(rng, args.runs, args.horizon,
                                 {"previous": (PREVIOUS, spend_delta),
                                  "new": (NEW, deployment_delta)}, ks=range(1, 21))
    if "tradeoff" not in args.skip:
        out["tradeoff"] = tradeoff_cells(rng, args.runs, args.tradeoff_horizon, 3000)
    if "pipeline" not in args.skip:
        names = list(BOOSTS)
        out["pipeline"] = pipeline_cells(rng, args.runs, 1000, args.pipeline_post,
                                         [names[i] for i in args.boosts])
    out["seconds"] = round(time.perf_counter() - started, 1)
    parts = [p for p in PARTS if p not in args.skip]
    suffix = "" if args.runs == 1000 else f"_{args.runs}"
    suffix += "" if len(parts) == len(PARTS) else "_" + "-".join(parts)
    print(f"wrote {write_json(f'b7_monitor{suffix}.json', out)} in {out['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
