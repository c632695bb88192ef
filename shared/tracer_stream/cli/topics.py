"""``tracer-stream topics create | list | read KIND``: create every topic explicitly
(idempotent), including the application's shared reply topic
(``TRACER_STREAM_TOPICS_REPLIES``) that the client SDK reads, so that clients need no admin
rights at run time; list their names; or print what a topic holds (one message a line)
without joining a consumer group."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracer_stream.config import KafkaSettings

_KINDS = ["requests", "labels", "llm_requests", "traces", "models", "dead_letter"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("topics", help="create, list or read the deployment's Kafka topics")
    parser.add_argument("action", choices=["create", "list", "read"],
                        help="create: every topic that does not exist yet, the reply topic "
                             "included (idempotent); "
                             "list: the configured topic names; read KIND: print the messages "
                             "of one topic up to its current end")
    parser.add_argument("kind", nargs="?", choices=_KINDS,
                        help="the topic read prints (by kind, e.g. dead_letter)")
    parser.add_argument("--since", type=float, default=None, metavar="SECONDS",
                        help="read: only messages of the last SECONDS (default: all)")
    parser.add_argument("--max", type=int, default=1000, metavar="N",
                        help="read: at most N messages (default 1000)")
    parser.add_argument("--keys", action="store_true",
                        help="read: print each message's key and a tab before it")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.bus import ensure_topics
    from tracer_stream.bus.admin import topic_config
    from tracer_stream.cli._reach import require_broker
    from tracer_stream.config import KafkaSettings, TopicSettings
    from tracer_stream.errors import ConfigError

    topics = TopicSettings()
    if args.action == "list":
        for kind, name in topics.all_names().items():
            config = " ".join(f"{k}={v}" for k, v in topic_config(topics, kind).items())
            print(f"{kind:12} {name}  {config}".rstrip())
        return 0
    if args.action == "read" and args.kind is None:
        raise ConfigError(f"topics read needs a topic kind: one of {', '.join(_KINDS)}")
    kafka = KafkaSettings()
    require_broker(kafka)
    if args.action == "read":
        return _read(kafka, topics.name(args.kind), args)
    for name, state in sorted(ensure_topics(kafka, topics).items()):
        print(f"{name}  {state}")
    return 0


def _read(kafka: KafkaSettings, topic: str, args: argparse.Namespace) -> int:
    import sys
    import time

    from tracer_stream.cli._kafka_view import read_topic

    since_ms = 0 if args.since is None else int((time.time() - args.since) * 1000)
    out = sys.stdout
    for msg in read_topic(kafka, topic, since_ms=since_ms, limit=args.max):
        value = (msg.value() or b"").decode("utf-8", errors="replace")
        if args.keys:
            key = (msg.key() or b"").decode("utf-8", errors="replace")
            out.write(f"{key}\t{value}\n")
        else:
            out.write(value + "\n")
    return 0
