"""``tracer-stream topics create``: create every topic explicitly (idempotent)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("topics", help="create the deployment's Kafka topics")
    parser.add_argument("action", choices=["create", "list"],
                        help="create: every topic that does not exist yet (idempotent); "
                             "list: the configured topic names")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.bus import ensure_topics
    from tracer_stream.cli._reach import require_broker
    from tracer_stream.config import KafkaSettings, TopicSettings

    topics = TopicSettings()
    if args.action == "list":
        for kind, name in topics.all_names().items():
            print(f"{kind:12} {name}")
        return 0
    kafka = KafkaSettings()
    require_broker(kafka)
    for name, state in sorted(ensure_topics(kafka, topics).items()):
        print(f"{name}  {state}")
    return 0
