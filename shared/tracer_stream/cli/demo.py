"""``tracer-stream demo``: the whole system on this machine, end to end (about a minute on idle
cores, several on a busy machine; docs/demo.md).

Starts the embedded broker and Redis, the router, the LLM worker (a replay teacher answering
from labelled data) and the trainer as real processes, replays a synthetic customer-support
workload (or ``--dataset FILE.jsonl``) through Kafka over simulated days with a refit at each
day boundary, shows the surrogate taking over live, then prints a summary, writes an HTML
report and stops everything it started — also on Ctrl-C. See ``docs/demo.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="run the end-to-end demo (stack + services + simulated days of traffic)",
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", "") if __doc__
        else None)
    traffic = parser.add_argument_group("traffic")
    traffic.add_argument("--days", type=int, default=5, help="simulated days (default 5)")
    traffic.add_argument("--per-day", type=int, default=1500,
                         help="requests per day (default 1500)")
    traffic.add_argument("--seed", type=int, default=0,
                         help="seed of the workload, audits and replay (default 0)")
    traffic.add_argument("--dataset", type=Path, default=None,
                         help='your labelled traffic: JSONL of {"text","label"} (or '
                              '{"input","teacher"}), replayed in file order')
    traffic.add_argument("--shuffle", action="store_true",
                         help="shuffle --dataset with --seed before replaying it")
    task = parser.add_argument_group("guarantee and models")
    task.add_argument("--alpha", type=float, default=0.95,
                      help="target agreement with the teacher (default 0.95)")
    task.add_argument("--delta", type=float, default=0.05, help="risk δ (default 0.05)")
    task.add_argument("--audit-rate", type=float, default=0.02,
                      help="share of requests also sent to the LLM as audits (default 0.02)")
    task.add_argument("--embedder", default="minilm-onnx",
                      help="minilm-onnx (default), minilm, static or hash:256 (fastest)")
    task.add_argument("--zoo", choices=["fast", "default", "full"], default="default",
                      help="surrogates the trainer tries (default: default)")
    task.add_argument("--task-name", default="demo-intents",
                      help="name the demo registers its task under (default demo-intents)")
    llm = parser.add_argument_group("simulated LLM")
    llm.add_argument("--teacher-noise", type=float, default=0.0, metavar="P",
                     help="share of distinct texts the teacher labels at random, to watch the "
                          "gate refuse a noisy teacher (default 0)")
    llm.add_argument("--latency-ms", type=float, default=20.0,
                     help="latency of each replayed LLM call (default 20)")
    llm.add_argument("--price-per-call", type=float, default=0.002,
                     help="USD per LLM call, for the cost saved (default 0.002)")
    where = parser.add_argument_group("where")
    where.add_argument("--state-dir", type=Path, default=Path(".tracer-stream") / "demo",
                       help="runs go to STATE_DIR/run-<time>/ (default .tracer-stream/demo)")
    where.add_argument("--report", type=Path, default=None,
                       help="HTML report path (default: <run dir>/report.html)")
    where.add_argument("--kafka-port", type=int, default=0, help="broker port (0: a free one)")
    where.add_argument("--redis-port", type=int, default=0, help="Redis port (0: a free one)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.demo.cli import run_from_args

    return run_from_args(args)
