"""``tracer-stream router``: run the router service (settings from TRACER_STREAM_ROUTER_*)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("router", help="run the router: requests → surrogate or LLM")
    parser.add_argument("--http-port", type=int, default=None,
                        help="port of /healthz, /readyz, /metrics (0: any free port)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.config import RouterSettings
    from tracer_stream_router import main

    settings = RouterSettings()
    if args.http_port is not None:
        settings = settings.model_copy(update={"http_port": args.http_port})
    return main(settings)
