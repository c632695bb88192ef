"""``tracer-stream classify TEXT --task NAME``: classify through the deployment and print the
label as JSON (``-`` reads one text a line from stdin and prints one JSON a line)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("classify", help="classify a text and print the label JSON")
    parser.add_argument("text", help="the text, or - for one text a line on stdin")
    parser.add_argument("--task", required=True,
                        help="registered task name (checked in Redis first when it is reachable)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    parser.add_argument("--metadata", default=None, help="JSON object passed through")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import sys

    import orjson

    from tracer_stream.cli._reach import require_broker
    from tracer_stream.client import TracerClient
    from tracer_stream.config import KafkaSettings
    from tracer_stream.errors import ConfigError

    metadata = None
    if args.metadata is not None:
        try:
            metadata = orjson.loads(args.metadata)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"--metadata is not valid JSON: {exc}") from None
        if not isinstance(metadata, dict):
            raise ConfigError("--metadata must be a JSON object")
    texts = ([line.rstrip("\n") for line in sys.stdin if line.strip()] if args.text == "-"
             else [args.text])
    if not texts:
        return 0
    _check_task(args.task)
    kafka = KafkaSettings()
    require_broker(kafka)
    with TracerClient(kafka) as client:
        labels = client.classify_many(texts, args.task, timeout_s=args.timeout,
                                      metadata=metadata)
    for label in labels:
        print(orjson.dumps(label.to_dict()).decode())
    return 0


def _check_task(name: str) -> None:
    """Fail at once on a task Redis does not know. A client without access to Redis (only to
    Kafka) skips the check: the router dead-letters an unknown task."""
    from tracer_stream.cli._reach import open_registry, require_task
    from tracer_stream.errors import RegistryError

    try:
        registry = open_registry()
    except RegistryError:
        return
    try:
        require_task(registry, name)
    finally:
        registry.close()
