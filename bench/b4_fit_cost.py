"""B4 — fit cost: a full fit (all families, α ∈ {0.90, 0.95, 0.98}) on the 10,003 Banking77
training traces × 384-d embeddings, ours vs the reference tracer-llm 0.3.3, in the same run.

Each fit runs in a fresh subprocess (ours in this environment, the reference in its own venv
through its public ``tracer.fit``) so that peak memory (``ru_maxrss``) belongs to that fit alone;
the resident size right before the fit (interpreter, libraries, data) is reported beside it,
and so is CPU time (user + system, the process and its finished children), which is less
disturbed than wall time when the machine is shared.

    python bench/b4_fit_cost.py [--repeats 1] [--zoo default]

Prints a table and writes bench/results/b4_fit_cost.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _reference
import numpy as np
from _common import add_common_args, embeddings, get_embedder, load_dataset, machine, write_json

ALPHAS = [0.90, 0.95, 0.98]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


def ours_worker(job_path: str, out_path: str) -> None:
    """Fit with tracer-stream in this (fresh) process and write timing and memory."""
    from tracer_stream.learn import EmbedderRef, FitConfig, fit

    job = json.loads(Path(job_path).read_text())
    X = np.load(job["x_fit"])
    ref = EmbedderRef.from_dict(job["embedder"])
    cfg = FitConfig(alphas=tuple(ALPHAS), target_alpha=0.95, zoo=job["zoo"])
    base = _rss_mib()
    start, cpu0 = time.perf_counter(), _cpu_seconds()
    art = fit(X, job["y_fit"], embedder=ref, config=cfg)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
    man = art.manifest
    Path(out_path).write_text(json.dumps({
        "fit_seconds": seconds, "cpu_seconds": cpu, "rss_before_mib": base,
        "peak_rss_mib": _rss_mib(),
        "method": man["family"] if man["certified"] else None, "coverage_cal": man["coverage"],
    }))


def run_ours(X: np.ndarray, y: list[str], embedder: dict[str, Any], zoo: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", X)
        job = {"x_fit": str(Path(tmp) / "x.npy"), "y_fit": y, "embedder": embedder, "zoo": zoo}
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        out = Path(tmp) / "out.json"
        subprocess.run([sys.executable, __file__, "--worker", str(Path(tmp) / "job.json"),
                        str(out)], check=True)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        ours_worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--zoo", default="default", choices=["fast", "default", "full"])
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    embedder = get_embedder(args.embedder)
    ds = load_dataset(args.data_dir, "banking77")
    X_all = embeddings(ds, embedder)
    train = np.flatnonzero(ds.split == "train")
    X, y = X_all[train], ds.gold[train].tolist()
    print(f"B4: {len(y)} traces × {X.shape[1]}-d ({embedder.identity.id}), "
          f"α {ALPHAS}, {args.repeats} repeat(s)", flush=True)
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeats):
        r = run_ours(X, y, embedder.identity.to_dict(), args.zoo)
        runs.append({"system": "ours", "zoo": args.zoo, "repeat": rep, **r})
        print(f"  ours      {r['fit_seconds']:8.1f} s  {r['cpu_seconds']:8.1f} CPU s  "
              f"peak {r['peak_rss_mib']:7.0f} MiB", flush=True)
        if not args.no_reference:
            job = {"mode": "fit", "alphas": ALPHAS, "target": 0.95, "y_fit": y,
                   "texts": [ds.texts[i] for i in train]}
            r = _reference.run_job(job, {"x_fit": X}, cache=False)
            runs.append({"system": "reference", "zoo": "reference default", "repeat": rep, **r})
            print(f"  reference {r['fit_seconds']:8.1f} s  {r['cpu_seconds']:8.1f} CPU s  "
                  f"peak {r['peak_rss_mib']:7.0f} MiB", flush=True)
    summary: dict[str, Any] = {}
    for system in ("ours", "reference"):
        rs = [r for r in runs if r["system"] == system]
        if rs:
            summary[system] = {
                "fit_seconds_median": statistics.median(r["fit_seconds"] for r in rs),
                "cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in rs),
                "peak_rss_mib_median": statistics.median(r["peak_rss_mib"] for r in rs),
                "rss_before_mib_median": statistics.median(r["rss_before_mib"] for r in rs),
            }
    if len(summary) == 2:
        summary["speedup"] = (summary["reference"]["fit_seconds_median"]
                              / summary["ours"]["fit_seconds_median"])
        summary["cpu_ratio"] = (summary["reference"]["cpu_seconds_median"]
                                / summary["ours"]["cpu_seconds_median"])
        summary["peak_memory_ratio"] = (summary["reference"]["peak_rss_mib_median"]
                                        / summary["ours"]["peak_rss_mib_median"])
    print(f"\n{'system':10} {'fit s':>8} {'CPU s':>8} {'peak MiB':>9} {'before MiB':>10}")
    for system in ("ours", "reference"):
        if system in summary:
            s = summary[system]
            print(f"{system:10} {s['fit_seconds_median']:8.1f} {s['cpu_seconds_median']:8.1f} "
                  f"{s['peak_rss_mib_median']:9.0f} "
                  f"{s['rss_before_mib_median']:10.0f}")
    if "speedup" in summary:
        print(f"reference / ours: {summary['speedup']:.1f}× wall time, "
              f"{summary['cpu_ratio']:.1f}× CPU time, "
              f"{summary['peak_memory_ratio']:.2f}× peak memory")
    out = write_json("b4_fit_cost.json", {
        "command": "python " + " ".join(sys.argv), "machine": machine(),
        "embedder": embedder.identity.id, "n_traces": len(y), "alphas": ALPHAS,
        "reference": f"tracer-llm=={_reference.VERSION}", "summary": summary, "runs": runs,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
