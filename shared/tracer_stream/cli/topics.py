"""``tracer-stream topics create``: create every topic explicitly (idempotent)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("topics", help="create the deployment's Kafka topics")
    parser.add_argument("action", choices=["create", "list"])
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.bus import ensure_topics
    from tracer_stream.bus.admin import topic_config
    from tracer_stream.config import KafkaSettings, TopicSettings

    topics = TopicSettings()
    if args.action == "list":
        for kind, name in topics.all_names().items():
            config = " ".join(f"{k}={v}" for k, v in topic_config(topics, kind).items())
            print(f"{kind:12} {name}  {config}".rstrip())
        return 0
    for name, state in sorted(ensure_topics(KafkaSettings(), topics).items()):
        print(f"{name}  {state}")
    return 0
