"""Runs inside the reference's own virtual environment (tracer-llm==0.3.3): never imported by
tracer-stream. Usage: ``python _ref_worker.py JOB.json OUT.json``.

Job modes
- ``frontier`` (B1): the reference's fit pipeline on precomputed embeddings, exactly as
  ``tracer.fit`` runs it (``fit_frontier`` with its defaults max_fit_labels=8000,
  min_coverage=0.05, then the kNN OOD gate fitted on the traces with the deployed pipeline's
  predictions), once for all targets; then routes the evaluation rows per target as
  ``Router.predict_batch`` does (pipeline, then OOD deferral of handled rows).
- ``fit`` (B4): the public ``tracer.fit`` on a trace file, timed, with peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (e.g. joblib workers)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


def frontier(job: dict) -> dict:
    from tracer.fit.ood import fit_ood_gate, ood_mask
    from tracer.fit.pipeline import _accept_scores, _predict, fit_frontier, route_pipeline
    from tracer.fit.surrogate import _candidates

    X = np.load(job["x_fit"]).astype(np.float32)
    X_eval = np.load(job["x_eval"]).astype(np.float32)
    labels = sorted(set(job["y_fit"]))
    index = {lab: i for i, lab in enumerate(labels)}
    y = np.array([index[v] for v in job["y_fit"]], dtype=int)
    t0 = time.perf_counter()
    front, split = fit_frontier(X, y, job["alphas"], max_fit_labels=8000, min_coverage=0.05)
    gates = {}
    for item in front:
        if item["best"] and item["best"]["stages"]:
            preds, _, _ = route_pipeline(item["best"]["stages"], X)
            gates[item["target"]] = fit_ood_gate(X, [labels[int(p)] for p in preds])
    fit_seconds = time.perf_counter() - t0
    out = {"fit_seconds": fit_seconds, "zoo": sorted(_candidates(len(split["X_train"]))),
           "n_train": len(split["X_train"]), "n_cal": len(split["X_cal"]), "per_alpha": {}}
    for item in front:
        best = item["best"]
        res: dict = {"deployed": bool(best and best["stages"])}
        if res["deployed"]:
            stages = best["stages"]
            preds, handled, _ = route_pipeline(stages, X_eval)
            pred_labels = [labels[int(p)] if p >= 0 else None for p in preds]
            gate = gates.get(item["target"])
            if gate is not None and handled.any():
                handled = handled & ~ood_mask(X_eval, X, pred_labels, gate)
            first_pred, probs = _predict(stages[0]["clf"], X_eval)
            scores = _accept_scores(stages[0].get("acceptor"), probs)
            res.update(method=best["summary"]["method"],
                       models=[s["model_name"] for s in stages],
                       handled=handled.tolist(),
                       pred=[labels[int(p)] for p in np.where(preds >= 0, preds, first_pred)],
                       oracle_pred=[labels[int(p)] for p in first_pred],
                       oracle_scores=np.asarray(scores, dtype=float).tolist())
        out["per_alpha"][str(item["target"])] = res
    return out


def public_fit(job: dict) -> dict:
    import tracer
    from tracer.config import FitConfig

    X = np.load(job["x_fit"]).astype(np.float32)
    base = _rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        traces = Path(tmp) / "traces.jsonl"
        with traces.open("w") as fh:
            for text, lab in zip(job["texts"], job["y_fit"], strict=True):
                fh.write(json.dumps({"input": text, "teacher": lab}) + "\n")
        cfg = FitConfig(target_teacher_agreement=job["target"],
                        frontier_targets=tuple(job["alphas"]), verbose=False)
        t0, c0 = time.perf_counter(), _cpu_seconds()
        result = tracer.fit(traces, Path(tmp) / ".tracer", embeddings=X, config=cfg)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    m = result.manifest
    return {"fit_seconds": seconds, "cpu_seconds": cpu, "rss_before_mib": base,
            "peak_rss_mib": _rss_mib(),
            "method": m.selected_method, "coverage_cal": m.coverage_cal}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    out = frontier(job) if job["mode"] == "frontier" else public_fit(job)
    Path(sys.argv[2]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
