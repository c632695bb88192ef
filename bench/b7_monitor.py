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
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
from _common import machine, write_json

from tracer_stream.learn import spend_delta
from tracer_stream.learn.monitor import (
    MARGINS,
    WINDOWS,
    advance,
    log_mean_exp,
    suspicion_audit_rate,
    suspicion_log_paths,
)

ALPHA, DELTA = 0.95, 0.05
EPS = 1.0 - ALPHA
OLD_FRACTIONS = np.array([0.02, 0.05, 0.1, 0.25, 0.5])
AGES = (0, 2000, 5000, 20000)
DEPLOYMENTS = (1, 2, 5, 10)
CHUNK = 250  # streams simulated together
BLOCK = 1000  # steps per vectorised block (bounded memory; lets a cell stop early)

class Monitor(Protocol):
    """A monitor simulated on R streams at once, block by block."""

    def start(self, runs: int) -> Any: ...

    def step(self, state: Any, flags: np.ndarray) -> tuple[Any, np.ndarray]:
        """New state and the log-wealth (R, T) after each flag of the block."""


class OldMonitor:
    """The previous monitor: the mean of five fixed-bet wealth processes."""

    def start(self, runs: int) -> np.ndarray:
        return np.zeros((OLD_FRACTIONS.size, runs))

    def step(self, state: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        steps = np.log1p((OLD_FRACTIONS / EPS)[:, None, None] * (flags[None] - EPS))
        log_w = state[:, :, None] + np.cumsum(steps, axis=2)
        return log_w[:, :, -1], log_mean_exp(log_w)


class NewMonitor:
    """The library's monitor (:func:`tracer_stream.learn.monitor.advance`)."""

    def __init__(self, margins: Sequence[float] = MARGINS) -> None:
        self.margins = margins

    def start(self, runs: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(WINDOWS) * len(self.margins), runs)), np.zeros((runs, 0))

    def step(self, state: tuple[np.ndarray, np.ndarray], flags: np.ndarray
             ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        log_w0, recent = state
        log_w = advance(log_w0, recent, flags, EPS, self.margins)
        recent = np.concatenate([recent, flags], axis=1)[:, -max(WINDOWS):]
        return (log_w[:, :, -1], recent), log_mean_exp(log_w)


def blocks(rng: np.random.Generator, runs: int, rates: np.ndarray, monitor: Monitor
           ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(offset, flags, log-wealth) of successive blocks of ``runs`` streams; the consumer
    stops early by breaking out."""
    state = monitor.start(runs)
    for t0 in range(0, rates.size, BLOCK):
        flags = (rng.random((runs, min(BLOCK, rates.size - t0))) < rates[t0:t0 + BLOCK]
                 ).astype(float)
        state, log_w = monitor.step(state, flags)
        yield t0, flags, log_w


def crossings(rng: np.random.Generator, runs: int, rates: np.ndarray, monitor: Monitor,
              levels: Sequence[float]) -> np.ndarray:
    """(L, R): 1-based step of the first log-wealth ≥ each level (inf: never)."""
    out = []
    for start in range(0, runs, CHUNK):
        first = np.full((len(levels), min(CHUNK, runs - start)), np.inf)
        for t0, _, log_w in blocks(rng, first.shape[1], rates, monitor):
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


def levels_for(ks: Sequence[int]) -> list[float]:
    return [math.log(1.0 / DELTA)] + [math.log(1.0 / spend_delta(DELTA, k)) for k in ks]


def age_cells(rng: np.random.Generator, runs: int, post: int) -> list[dict[str, Any]]:
    cells = []
    levels = levels_for(DEPLOYMENTS)
    for age in AGES:
        for p1 in (0.10, 0.25):
            rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
            seed = int(rng.integers(2**32))
            t0 = time.perf_counter()
            new = crossings(np.random.default_rng(seed), runs, rates, NewMonitor(), levels)
            old = crossings(np.random.default_rng(seed), runs, rates, OldMonitor(),
                            levels[:1])
            cell = {"age": age, "p1": p1, "post": post, "old": summarise(old[0], age),
                    "new": summarise(new[0], age),
                    "new_k": {k: summarise(new[i + 1], age) for i, k in enumerate(DEPLOYMENTS)},
                    "seconds": round(time.perf_counter() - t0, 1)}
            cells.append(cell)
            print(f"age {age:>6} 0.03->{p1:.2f}: median old {cell['old']['median']:>8} "
                  f"new {cell['new']['median']:>6} k=1..10 "
                  f"{[cell['new_k'][k]['median'] for k in DEPLOYMENTS]} "
                  f"false alarms old {cell['old']['false_alarms']} new "
                  f"{cell['new']['false_alarms']} ({cell['seconds']} s)", flush=True)
    return cells


def null_cells(rng: np.random.Generator, runs: int, horizon: int, monitors: dict[str, Monitor],
               ks: Sequence[int] = (1,)) -> list[dict[str, Any]]:
    cells = []
    levels = levels_for(ks)
    for p in (0.05, 0.03):
        seed = int(rng.integers(2**32))
        for name, monitor in monitors.items():
            first = crossings(np.random.default_rng(seed), runs, np.full(horizon, p), monitor,
                              levels)
            rates = {"delta": float((first[0] <= horizon).mean())}
            rates.update({f"delta_{k}": float((first[i + 1] <= horizon).mean())
                          for i, k in enumerate(ks)})
            cells.append({"p": p, "monitor": name, "horizon": horizon, "runs": runs, **rates})
            print(f"null p={p} {name}: alarm rate {rates}", flush=True)
    return cells


def tradeoff_cells(rng: np.random.Generator, runs: int, horizon: int, post: int
                   ) -> list[dict[str, Any]]:
    cells = []
    for margins in ((0.0,), MARGINS, (1.0, 2.0), (0.0, 1.0, 2.0), (2.0, 3.0), (3.0,)):
        monitor = NewMonitor(margins)
        null = null_cells(rng, runs, horizon, {str(margins): monitor}, ks=())
        delays = {}
        for age in (0, 5000):  # 5,000: past the longest window, where the age stops mattering
            for p1 in (0.10, 0.25):
                rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
                first = crossings(rng, runs, rates, monitor, levels_for(()))
                delays[f"{age}:{p1}"] = summarise(first[0], age)
        cells.append({"margins": list(margins),
                      "false_alarm_005": next(c["delta"] for c in null if c["p"] == 0.05),
                      "false_alarm_003": next(c["delta"] for c in null if c["p"] == 0.03),
                      "delays": delays})
        print(f"margins {margins}: {({k: v['median'] for k, v in delays.items()})}", flush=True)
    return cells


def pipeline_cells(rng: np.random.Generator, runs: int, age: int, post: int
                   ) -> list[dict[str, Any]]:
    base, cap, handled = 0.02, 0.25, 0.8
    level = math.log(1.0 / spend_delta(DELTA, 1))
    rule = np.vectorize(lambda s: suspicion_audit_rate(s, base, cap), otypes=[float])
    cells = []
    for f in (0.0, 0.1, 0.3, 1.0):
        p1 = 0.03 + 0.19 * 0.97 * f
        rates = np.r_[np.full(age, 0.03), np.full(post, p1)]
        seed = int(rng.integers(2**32))
        for name, monitor, boost in (("old, no boost", OldMonitor(), False),
                                     ("new, no boost", NewMonitor(), False),
                                     ("new, suspicion boost", NewMonitor(), True)):
            r = np.random.default_rng(seed)
            requests, audits, alarmed = [], [], []
            for start in range(0, runs, CHUNK):
                n = min(CHUNK, runs - start)
                req, aud = np.zeros(n), np.zeros(n)
                first = np.full(n, np.inf)
                evidence_before = np.zeros(n)  # log-evidence after the previous audit
                log_s = np.zeros(n)
                for t0, flags, log_w in blocks(r, n, rates, monitor):
                    susp = suspicion_log_paths(flags, ALPHA, log_s)
                    log_s = susp[:, -1]
                    evidence = np.maximum(log_w, susp)
                    before = np.c_[evidence_before, evidence[:, :-1]]
                    evidence_before = evidence[:, -1]
                    # the rate of an audit is chosen from the monitor after the previous one
                    audit_rate = (rule(np.exp(np.minimum(before, 50.0))) if boost
                                  else np.full(before.shape, base))
                    gaps = r.geometric(handled * audit_rate)  # requests up to this audit
                    hit = log_w >= level
                    new = hit.any(axis=1) & np.isinf(first)
                    first[new] = t0 + hit[new].argmax(axis=1) + 1
                    step = t0 + np.arange(1, flags.shape[1] + 1)
                    counted = (step[None, :] > age) & (step[None, :] <= first[:, None])
                    req += (gaps * counted).sum(axis=1)
                    aud += counted.sum(axis=1)
                    if t0 + flags.shape[1] > age and np.isfinite(first).all():
                        break
                keep = first > age  # runs with a false alarm before the change: see ``null``
                requests += req[keep].tolist()
                audits += aud[keep].tolist()
                alarmed += np.isfinite(first[keep]).tolist()
            req_a, aud_a, hit_a = np.array(requests), np.array(audits), np.array(alarmed)
            llm = (1.0 - handled) * req_a + aud_a
            cell = {"f": f, "p1": p1, "agreement": 1.0 - p1, "monitor": name,
                    "runs": len(req_a), "detected": float(hit_a.mean()),
                    "median_requests": _median(req_a[hit_a]),
                    "median_audits": _median(aud_a[hit_a]),
                    "median_llm_calls": _median(llm[hit_a]),
                    "audit_rate_until_alarm": float(aud_a.sum() / (handled * req_a.sum())),
                    "llm_calls_per_request_until_alarm": float(llm.sum() / req_a.sum())}
            cells.append(cell)
            print(f"f={f} {name}: detected {cell['detected']:.3f} median requests "
                  f"{cell['median_requests']} audits {cell['median_audits']} LLM calls "
                  f"{cell['median_llm_calls']} audit rate until alarm "
                  f"{cell['audit_rate_until_alarm']:.4f}", flush=True)
    return cells


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--post", type=int, default=25000,
                        help="audited requests simulated after the change")
    parser.add_argument("--horizon", type=int, default=20000,
                        help="audited requests of a false-alarm run")
    parser.add_argument("--tradeoff-horizon", type=int, default=5000,
                        help="audited requests of a false-alarm run in the trade-off curve")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["age", "null", "tradeoff", "pipeline"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    out: dict[str, Any] = {"machine": machine(), "alpha": ALPHA, "delta": DELTA,
                           "runs": args.runs, "argv": sys.argv[1:]}
    if "age" not in args.skip:
        out["age"] = age_cells(rng, args.runs, args.post)
    if "null" not in args.skip:
        out["null"] = null_cells(rng, args.runs, args.horizon,
                                 {"old": OldMonitor(), "new": NewMonitor()},
                                 ks=DEPLOYMENTS)
    if "tradeoff" not in args.skip:
        out["tradeoff"] = tradeoff_cells(rng, args.runs, args.tradeoff_horizon, 3000)
    if "pipeline" not in args.skip:
        out["pipeline"] = pipeline_cells(rng, args.runs, 1000, 10000)
    out["seconds"] = round(time.perf_counter() - started, 1)
    parts = [p for p in ("age", "null", "tradeoff", "pipeline") if p not in args.skip]
    suffix = "" if args.runs == 1000 else f"_{args.runs}"
    suffix += "" if len(parts) == 4 else "_" + "-".join(parts)
    print(f"wrote {write_json(f'b7_monitor{suffix}.json', out)} in {out['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
