"""``tracer-stream topics create``: create every topic explicitly (idempotent), including the
application's shared reply topic (``TRACER_STREAM_TOPICS_REPLIES``) that the client SDK reads,
so that clients need no admin rights at run time."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("topics",
                            help="create the deployment's Kafka topics and the reply topic")
    parser.add_argument("action", choices=["create", "list"])
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.bus import ensure_topics
    from tracer_stream.config import KafkaSettings, TopicSettings

    topics = TopicSettings()
    if args.action == "list":
        for kind, name in topics.all_names().items():
            print(f"{kind:12} {name}")
        return 0
    for name, state in sorted(ensure_topics(KafkaSettings(), topics).items()):
        print(f"{name}  {state}")
    return 0
