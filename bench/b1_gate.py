"""B1 — the gate: validity and coverage, ours vs the reference tracer-llm 0.3.3, same run.

For every dataset (Banking77, CLINC150 in-scope, CLINC150 with ``oos``, the MNLI subset),
teacher (``gold``, ``noisy8``), protocol and seed, both systems fit on the same trace
embeddings and route the same evaluation rows:

- ``iid``: all splits pooled; a seeded draw of ``--iid-trace-fraction`` of the rows is the trace
  set, the rest the evaluation stream.
- ``shift``: official train → official test (MNLI: train → validation).

Per cell (dataset × protocol × teacher × α, δ = 0.05) it reports the deploy rate, coverage and
handled agreement (with the teacher) on the evaluation stream, the violation rate (share of
seeds whose handled agreement < α; unconditional and among deploying seeds), end-to-end
accuracy vs gold (deferred rows get the teacher's label), oracle coverage (best single
threshold on the same surrogate's acceptor score, chosen with hindsight on the evaluation
stream) and fit wall time. The reference fixes its own randomness (seed 42), so its
``shift`` cells are one run, and its answers are cached by job content across invocations
(``--ref-fresh`` refits; cached runs keep the fit time they were measured with).

    python bench/b1_gate.py                 # 20 seeds, everything (hours)
    python bench/b1_gate.py --quick         # 3 seeds ours; reference 1 seed, gold, Banking77

Prints a table and writes bench/results/b1_gate[_quick].json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _reference
import numpy as np
from _common import (
    Dataset,
    add_common_args,
    embeddings,
    get_embedder,
    load_dataset,
    machine,
    oracle_coverage,
    teacher_labels,
    write_json,
)

from tracer_stream.learn import EmbedderRef, FitConfig, fit

ALPHAS = (0.90, 0.95, 0.98)
DELTA = 0.05


@dataclass(frozen=True)
class Cell:
    name: str
    file: str
    drop_oos: bool
    fit_splits: tuple[str, ...]
    eval_split: str


DATASETS = {
    "banking77": Cell("banking77", "banking77", False, ("train",), "test"),
    "clinc150": Cell("clinc150", "clinc150", True, ("train",), "test"),
    "clinc150_oos": Cell("clinc150_oos", "clinc150", False, ("train",), "test"),
    "mnli": Cell("mnli", "mnli_subset", False, ("train",), "validation"),
}


def evaluate(handled: np.ndarray, pred: np.ndarray, teacher: np.ndarray, gold: np.ndarray,
             alpha: float, scores: np.ndarray | None, score_pred: np.ndarray | None
             ) -> dict[str, Any]:
    n_acc = int(handled.sum())
    final = np.where(handled, pred, teacher)
    return {
        "coverage": n_acc / len(handled),
        "agreement": float((pred[handled] == teacher[handled]).mean()) if n_acc else None,
        "e2e_accuracy": float((final == gold).mean()),
        "oracle_coverage": (oracle_coverage(scores, score_pred == teacher, alpha)
                            if scores is not None and score_pred is not None else None),
    }


def run_ours(X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, t_eval: np.ndarray,
             g_eval: np.ndarray, ref: EmbedderRef, seed: int) -> list[dict[str, Any]]:
    start = time.perf_counter()
    art = fit(X, y.tolist(), embedder=ref,
              config=FitConfig(alphas=ALPHAS, target_alpha=0.95, delta=DELTA, seed=seed))
    seconds = time.perf_counter() - start
    rows = []
    for alpha in ALPHAS:
        pol = art.policy(alpha)
        res = art.route(X_eval, alpha=alpha)
        pred = np.asarray(res.labels, dtype=object)
        row = {"alpha": alpha, "deployed": bool(pol.certified), "family": pol.family,
               "fit_seconds": seconds}
        row.update(evaluate(res.accepted, pred, t_eval, g_eval, alpha, res.scores, pred))
        rows.append(row)
    return rows


def run_reference(X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, t_eval: np.ndarray,
                  g_eval: np.ndarray, fresh: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    job = {"mode": "frontier", "alphas": list(ALPHAS), "y_fit": y.tolist()}
    out = _reference.run_job(job, {"x_fit": X, "x_eval": X_eval}, cache=not fresh)
    rows = []
    for alpha in ALPHAS:
        res = out["per_alpha"][str(alpha)]
        row: dict[str, Any] = {"alpha": alpha, "deployed": res["deployed"],
                               "family": res.get("method"), "fit_seconds": out["fit_seconds"]}
        if res["deployed"]:
            row.update(evaluate(np.asarray(res["handled"]), np.asarray(res["pred"], dtype=object),
                                t_eval, g_eval, alpha, np.asarray(res["oracle_scores"]),
                                np.asarray(res["oracle_pred"], dtype=object)))
        else:
            row.update(evaluate(np.zeros(len(t_eval), dtype=bool), t_eval, t_eval, g_eval,
                                alpha, None, None))
        rows.append(row)
    meta = {k: out[k] for k in ("zoo", "n_train", "n_cal", "cached")}
    return rows, meta


def splits(ds: Dataset, cell: Cell, protocol: str, seed: int, fraction: float
           ) -> tuple[np.ndarray, np.ndarray]:
    if protocol == "shift":
        return (np.flatnonzero(np.isin(ds.split, cell.fit_splits)),
                np.flatnonzero(ds.split == cell.eval_split))
    rng = np.random.default_rng([seed, sum(map(ord, cell.name))])
    perm = rng.permutation(len(ds.texts))
    cut = round(fraction * len(perm))
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["protocol"], r["teacher"], r["alpha"], r["system"])].append(r)
    out = []
    for (dataset, protocol, teacher, alpha, system), rs in sorted(groups.items()):
        dep = [r for r in rs if r["deployed"]]
        viol = [r for r in dep if r["agreement"] is not None and r["agreement"] < alpha]
        agreements = [r["agreement"] for r in rs if r["agreement"] is not None]
        oracles = [r["oracle_coverage"] for r in rs if r["oracle_coverage"] is not None]
        families = sorted({r["family"] for r in dep if r["family"]})
        out.append({
            "dataset": dataset, "protocol": protocol, "teacher": teacher, "alpha": alpha,
            "system": system, "seeds": len(rs), "deploy_rate": len(dep) / len(rs),
            "coverage_mean": statistics.fmean(r["coverage"] for r in rs),
            "agreement_mean": statistics.fmean(agreements) if agreements else None,
            "agreement_min": min(agreements) if agreements else None,
            "violation_rate": len(viol) / len(rs),
            "violation_rate_deployed": len(viol) / len(dep) if dep else None,
            "e2e_accuracy_mean": statistics.fmean(r["e2e_accuracy"] for r in rs),
            "oracle_coverage_mean": statistics.fmean(oracles) if oracles else None,
            "fit_seconds_median": statistics.median(r["fit_seconds"] for r in rs),
            "families": families,
        })
    return out


def _f(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}" if pct else f"{x:.3f}"


def print_table(agg: list[dict[str, Any]]) -> None:
    print(f"\n{'dataset':13} {'prot':5} {'teacher':7} {'α':>4} {'system':9} {'seeds':>5} "
          f"{'deploy%':>7} {'cov%':>6} {'agree':>6} {'min':>6} {'viol%':>6} {'viol|dep%':>9} "
          f"{'e2e':>6} {'oracle%':>7} {'fit s':>7}  families")
    for a in agg:
        print(f"{a['dataset']:13} {a['protocol']:5} {a['teacher']:7} {a['alpha']:>4} "
              f"{a['system']:9} {a['seeds']:>5} {_f(a['deploy_rate'], True):>7} "
              f"{_f(a['coverage_mean'], True):>6} {_f(a['agreement_mean']):>6} "
              f"{_f(a['agreement_min']):>6} {_f(a['violation_rate'], True):>6} "
              f"{_f(a['violation_rate_deployed'], True):>9} {_f(a['e2e_accuracy_mean']):>6} "
              f"{_f(a['oracle_coverage_mean'], True):>7} {a['fit_seconds_median']:>7.1f}  "
              f"{','.join(a['families'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--ref-seeds", type=int, default=None,
                        help="i.i.d. seeds for the reference (default: --seeds)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--teachers", nargs="+", default=["gold", "noisy8"],
                        choices=["gold", "noisy8"])
    parser.add_argument("--ref-teachers", nargs="+", default=None,
                        help="teachers the reference is run on (default: --teachers)")
    parser.add_argument("--ref-datasets", nargs="+", default=None, choices=list(DATASETS),
                        help="datasets the reference is run on (default: --datasets)")
    parser.add_argument("--protocols", nargs="+", default=["iid", "shift"],
                        choices=["iid", "shift"])
    parser.add_argument("--iid-trace-fraction", type=float, default=0.55)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--ref-fresh", action="store_true", help="ignore cached reference runs")
    parser.add_argument("--out", default=None,
                        help="results file name in bench/results (default: b1_gate[_quick].json)")
    parser.add_argument("--quick", action="store_true",
                        help="3 seeds ours; reference: 1 seed, gold, Banking77 only")
    args = parser.parse_args()
    if args.quick:
        args.seeds = min(args.seeds, 3)
        args.ref_seeds = 1 if args.ref_seeds is None else args.ref_seeds
        args.ref_teachers = args.ref_teachers or ["gold"]
        args.ref_datasets = args.ref_datasets or ["banking77"]
    ref_seeds = args.seeds if args.ref_seeds is None else args.ref_seeds
    ref_teachers = args.ref_teachers or args.teachers
    ref_datasets = args.ref_datasets or args.datasets

    embedder = get_embedder(args.embedder)
    ref = embedder.identity
    rows: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    out_name = args.out or ("b1_gate_quick.json" if args.quick else "b1_gate.json")
    started = machine()  # the code version a run measured is the one it started with

    def save(complete: bool) -> Path:
        return write_json(out_name, {
            "command": "python " + " ".join(sys.argv), "complete": complete,
            "machine": started, "load_avg_1m_now": machine()["load_avg_1m"],
            "embedder": ref.id, "alphas": ALPHAS, "delta": DELTA,
            "reference": f"tracer-llm=={_reference.VERSION}", "reference_meta": meta,
            "aggregates": aggregate(rows), "runs": rows,
        })

    files: dict[str, tuple[Dataset, np.ndarray]] = {}
    for name in args.datasets:
        cell = DATASETS[name]
        if cell.file not in files:
            full = load_dataset(args.data_dir, cell.file)
            files[cell.file] = (full, embeddings(full, embedder))
        full, X_full = files[cell.file]
        mask = full.gold != "oos" if cell.drop_oos else np.ones(len(full.texts), dtype=bool)
        ds, X_all = full.subset(mask, name), X_full[mask]
        for teacher in args.teachers:
            t_all = teacher_labels(full, teacher)[mask]
            for protocol in args.protocols:
                for seed in range(args.seeds):
                    fit_idx, ev_idx = splits(ds, cell, protocol, seed, args.iid_trace_fraction)
                    common = (X_all[fit_idx], t_all[fit_idx], X_all[ev_idx], t_all[ev_idx],
                              ds.gold[ev_idx])
                    tag = {"dataset": name, "protocol": protocol, "teacher": teacher,
                           "seed": seed, "n_traces": len(fit_idx), "n_eval": len(ev_idx)}
                    for r in run_ours(*common, ref=ref, seed=seed):
                        rows.append({**tag, "system": "ours", **r})
                    # The reference fixes its own randomness: one shift run stands for all.
                    want_ref = (not args.no_reference and teacher in ref_teachers
                                and name in ref_datasets
                                and seed < (ref_seeds if protocol == "iid" else 1))
                    if want_ref:
                        ref_rows, info = run_reference(*common, fresh=args.ref_fresh)
                        meta[f"{name}/{protocol}/{teacher}/{seed}"] = info
                        for r in ref_rows:
                            rows.append({**tag, "system": "reference", **r})
                    print(f"{name} {protocol} {teacher} seed {seed}: "
                          + "  ".join(f"{r['system'][:3]}@{r['alpha']} "
                                      f"cov={_f(r['coverage'], True)} agr={_f(r['agreement'])}"
                                      for r in rows if r["dataset"] == name
                                      and r["protocol"] == protocol and r["teacher"] == teacher
                                      and r["seed"] == seed), flush=True)
                    save(complete=False)
    print_table(aggregate(rows))
    print(f"wrote {save(complete=True)}")


if __name__ == "__main__":
    main()
