"""B3 — the flywheel end to end through the real services (BENCHMARKS.md, B3).

Each scenario is a run of ``tracer-stream demo --dataset FILE`` (the same orchestration, called
in-process): the embedded broker and Redis, the router, the LLM worker with the replay teacher
and the trainer as real processes; the stream goes through Kafka one simulated day at a time and
the trainer refits at each day boundary. Per day: coverage, LLM calls, agreement of the handled
answers with the teacher (Clopper–Pearson 95%), accuracy against gold, the version served.

Scenarios (``--scenarios``, default all four):

``gold``        Banking77, every split pooled and shuffled (seed 0), teacher = dataset label,
                ``--days`` × ``--per-day`` requests (default 5 × 2,000) at α = 0.95.
``noisy8``      the same stream, teacher ``noisy8`` (8% of items get a wrong label, fixed seed)
                at α = 0.95 — unattainable: a surrogate cannot predict random flips, so about
                92% is the ceiling of any agreement with this teacher and the gate must refuse.
``noisy8-88``   the same at α = 0.88, the target B1 uses for this teacher.
``shift``       CLINC150: ``--shift-train-days`` days of the official train split (in scope),
                then the official test split with its out-of-scope (``oos``) requests.

    python bench/b3_flywheel.py [--scenarios gold noisy8 noisy8-88 shift] [--days 5]
                                [--per-day 2000] [--seeds 0 1 2] [--embedder minilm-onnx]

Prints a table per scenario and writes bench/results/b3_flywheel.json; each run's HTML report
stays in its run directory under the bench cache.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from _common import add_common_args, bench_cache, load_dataset, machine, teacher_labels, write_json
from rich.console import Console

from tracer_stream.demo.cli import make_console, stop_on_signals, summarize
from tracer_stream.demo.report import write_report
from tracer_stream.demo.results import DemoResult
from tracer_stream.demo.run import DemoConfig, run_demo

PAPER = "TRACER paper: coverage 73% on day 1 growing to 83% by day 4 at α = 0.95"
SCENARIOS = ("gold", "noisy8", "noisy8-88", "shift")


def _write_stream(path: Path, texts: list[str], teacher: np.ndarray, gold: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(
        orjson.dumps({"text": t, "label": str(lab), "gold": str(g)}) + b"\n"
        for t, lab, g in zip(texts, teacher, gold, strict=True)))
    return path


def banking_stream(args: argparse.Namespace, teacher: str, work: Path) -> Path:
    """Banking77, all splits pooled, shuffled with the run's seed, with the chosen teacher."""
    ds = load_dataset(args.data_dir, "banking77")
    labels = teacher_labels(ds, teacher)
    order = list(range(len(ds.texts)))
    random.Random(args.seed).shuffle(order)
    order = order[:args.days * args.per_day]
    return _write_stream(work / f"banking77-{teacher}.jsonl", [ds.texts[i] for i in order],
                         labels[order], ds.gold[order])


def shift_stream(args: argparse.Namespace, work: Path) -> tuple[Path, int]:
    """CLINC150 official train (in scope) for the first days, then the official test split
    with ``oos``. Returns the file and the number of days."""
    ds = load_dataset(args.data_dir, "clinc150")
    rng = random.Random(args.seed)
    train = [i for i in range(len(ds.texts)) if ds.split[i] == "train" and ds.gold[i] != "oos"]
    test = [i for i in range(len(ds.texts)) if ds.split[i] == "test"]
    rng.shuffle(train)
    rng.shuffle(test)
    order = train[:args.shift_train_days * args.per_day] + test
    days = args.shift_train_days + -(-len(test) // args.per_day)
    return _write_stream(work / "clinc150-shift.jsonl", [ds.texts[i] for i in order],
                         ds.gold[order], ds.gold[order]), days


def run_scenario(name: str, args: argparse.Namespace, console: Console, stop: threading.Event,
                 work: Path) -> tuple[DemoResult, Path]:
    alpha = 0.88 if name == "noisy8-88" else args.alpha
    days = args.days
    if name == "shift":
        dataset, days = shift_stream(args, work)
    else:
        dataset = banking_stream(args, "gold" if name == "gold" else "noisy8", work)
    config = DemoConfig(days=days, per_day=args.per_day, alpha=alpha, delta=args.delta,
                        audit_rate=args.audit_rate, seed=args.seed, embedder=args.embedder,
                        dataset=dataset, task_name=f"b3-{name}", state_dir=work / "runs",
                        latency_ms=args.latency_ms, zoo=args.zoo)
    console.rule(f"B3 {name}: α = {alpha:g}, δ = {args.delta:g}, {days} days × {args.per_day}, "
                 f"seed {args.seed}")
    result, run_dir = run_demo(config, console, stop)
    write_report(result, run_dir / "report.html")
    summarize(result, console)
    console.print(f"report: {run_dir / 'report.html'}")
    return result, run_dir


def detection(result: DemoResult, shifted_from: int, per_day: int,
              actions: tuple[str, ...] = ("close_gate",)) -> dict[str, Any] | None:
    """The first event with one of ``actions`` (default: a gate closure) on or after day
    ``shifted_from``: when, and how many shifted requests were answered (and handled by the
    surrogate) before it."""
    for event in result.events:
        if event.get("action") in actions and event.get("day", 0) >= shifted_from:
            earlier = result.days[shifted_from - 1:event["day"] - 1]
            return {"day": event["day"], "action": event.get("action"),
                    "reason": event.get("reason"),
                    "shifted_requests_before": sum(d.answered for d in earlier)
                    + int(event.get("day_answered_before", 0)),
                    "shifted_handled_before": sum(d.handled for d in earlier)
                    + int(event.get("day_handled_before", 0)), "per_day": per_day}
    return None


ALARM_ACTIONS = ("router_alarm", "calibration_epoch", "drift", "close_gate")
"""Events that mark an alarm acted on (the first one is the first alarm)."""


def scenario_record(name: str, result: DemoResult, run_dir: Path,
                    args: argparse.Namespace) -> dict[str, Any]:
    data = result.to_dict()
    keep = ("day", "requests", "handled", "coverage", "llm_calls", "audits",
            "handled_agreement", "handled_agreement_ci95", "agreement_all_answers",
            "gold_accuracy", "versions", "deferral_reasons", "seconds")
    return {"scenario": name, "alpha": result.alpha, "delta": result.delta,
            "days": [{k: d[k] for k in keep} for d in data["days"]],
            "handled_agreement_at_least_alpha_every_day": result.handled_ok,
            "refits": data["refits"], "events": data["events"], "versions": data["versions"],
            "certificates": data["certificates"], "wall_seconds": data["wall_seconds"],
            "detection": detection(result, args.shift_train_days + 1, args.per_day)
            if name == "shift" else None,
            "first_alarm": detection(result, args.shift_train_days + 1, args.per_day,
                                     ALARM_ACTIONS) if name == "shift" else None,
            "run_dir": str(run_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS,
                        default=["gold", "noisy8", "noisy8-88", "shift"])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--alpha", type=float, default=0.95)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--audit-rate", type=float, default=0.02)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one run per scenario and seed (stream order, audits, replay)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--zoo", choices=["fast", "default", "full"], default="default")
    parser.add_argument("--shift-train-days", type=int, default=3)
    parser.add_argument("--out", default="b3_flywheel.json",
                        help="results file name under bench/results/")
    args = parser.parse_args()
    console = make_console()
    work = bench_cache() / "b3"
    records = []
    started = time.monotonic()
    with stop_on_signals(console) as stop:
        try:
            for seed in args.seeds:
                for name in args.scenarios:
                    run_args = argparse.Namespace(**{**vars(args), "seed": seed})
                    result, run_dir = run_scenario(name, run_args, console, stop, work)
                    records.append({**scenario_record(name, result, run_dir, run_args),
                                    "seed": seed})
        except KeyboardInterrupt:
            sys.exit("interrupted: every process the benchmark started is stopped")
    path = write_json(args.out, {
        "benchmark": "B3 flywheel", "command": "python " + " ".join(sys.argv),
        "machine": machine(), "embedder": args.embedder, "per_day": args.per_day,
        "audit_rate": args.audit_rate, "paper": PAPER, "scenarios": records,
        "wall_seconds": round(time.monotonic() - started, 1)})
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
