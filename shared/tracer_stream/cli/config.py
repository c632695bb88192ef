"""``tracer-stream config show|reference``: effective settings (secrets masked) or the
reference of every environment variable."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="show effective settings or the reference")
    parser.add_argument("action", choices=["show", "reference"],
                        help="show: the effective settings as JSON, secrets masked; reference: "
                             "every TRACER_STREAM_* variable as a Markdown table")
    parser.add_argument("--service", choices=["router", "worker", "trainer"], default="router",
                        help="whose settings show prints (default router)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import orjson

    from tracer_stream.config import RouterSettings, TrainerSettings, WorkerSettings, masked_dump
    from tracer_stream.config.reference import reference_markdown

    if args.action == "reference":
        print(reference_markdown())
        return 0
    cls = {"router": RouterSettings, "worker": WorkerSettings, "trainer": TrainerSettings}
    settings = cls[args.service]()
    print(orjson.dumps(masked_dump(settings), option=orjson.OPT_INDENT_2).decode())
    return 0
