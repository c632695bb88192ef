"""``tracer-stream worker``: run the LLM worker (settings from ``TRACER_STREAM_WORKER_*``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "worker", help="run the LLM worker: label deferred requests with the teacher LLM",
        description="Consume the llm-requests topic, call the configured LLM backend, and "
                    "publish labels, traces and dead letters. Every option overrides the "
                    "matching TRACER_STREAM_WORKER_* variable.")
    parser.add_argument("--backend", choices=["openai", "anthropic", "replay"],
                        help="LLM API: openai (any OpenAI-compatible server), anthropic, or "
                             "replay (answers from a labelled JSONL file)")
    parser.add_argument("--model", help="model name sent to the API")
    parser.add_argument("--base-url", help="API base URL (e.g. http://localhost:11434/v1)")
    parser.add_argument("--replay-file", type=Path, help="JSONL answers for the replay backend")
    parser.add_argument("--http-port", type=int, help="port of /healthz /readyz /metrics")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import logging

    from tracer_stream.config import WorkerSettings
    from tracer_stream_worker import run

    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise
    overrides = {"backend": args.backend, "model": args.model, "base_url": args.base_url,
                 "replay_file": args.replay_file, "http_port": args.http_port}
    settings = WorkerSettings(**{k: v for k, v in overrides.items() if v is not None})
    return run(settings)
