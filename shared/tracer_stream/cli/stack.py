"""``tracer-stream stack up|down|status``: the embedded broker and Redis on loopback."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracer_stream.config.settings import DEFAULT_KAFKA_PORT, DEFAULT_REDIS_PORT


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "stack", help="start/stop the embedded Kafka broker and Redis",
        description="A Kafka-protocol broker and a Redis server on 127.0.0.1 for trying "
                    "tracer-stream on one machine (nothing is persisted).")
    parser.add_argument("action", choices=["up", "down", "status"],
                        help="up: start both (idempotent), create the topics and print the "
                             "settings that point at them; down: stop what up started; "
                             "status: running or stopped, with the ports last used")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="pid files and logs (default: $TRACER_STREAM_STATE_DIR/stack)")
    parser.add_argument("--kafka-port", type=int, default=None,
                        help=f"broker port (up: default {DEFAULT_KAFKA_PORT}; down and "
                             "status: the port the last up used)")
    parser.add_argument("--redis-port", type=int, default=None,
                        help=f"Redis port (up: default {DEFAULT_REDIS_PORT}; down and "
                             "status: the port the last up used)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.config import TopicSettings, mask_secrets
    from tracer_stream.config.settings import RouterSettings
    from tracer_stream.stack import EmbeddedStack
    from tracer_stream.stack.embedded import recorded_ports

    state_dir = args.state_dir or RouterSettings().state_dir / "stack"
    last = recorded_ports(state_dir) if args.action != "up" else None
    kafka_port, redis_port = last or (DEFAULT_KAFKA_PORT, DEFAULT_REDIS_PORT)
    stack = EmbeddedStack(state_dir, args.kafka_port or kafka_port,
                          args.redis_port or redis_port, TopicSettings())
    if args.action == "up":
        topics = stack.up()
        status = stack.status()
        print(f"broker  pid {status.kafka_pid}  127.0.0.1:{stack.kafka_port}  "
              f"log {state_dir / 'tansu.log'}")
        print(f"redis   pid {status.redis_pid}  127.0.0.1:{stack.redis_port}  "
              f"log {state_dir / 'redis.log'}")
        for name, state in sorted(topics.items()):
            print(f"topic   {name}  {state}")
        print("\n# point tracer-stream at this stack (secrets masked here):")
        for key, value in stack.env().items():
            print(f"export {key}={mask_secrets(value, key=key)}")
        print(f"# the complete settings, with a throw-away model key pair for this stack: "
              f"source {state_dir / 'stack.env'}")
        return 0
    if args.action == "down":
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    status = stack.status()
    for name, pid, port in (("broker", status.kafka_pid, stack.kafka_port),
                            ("redis", status.redis_pid, stack.redis_port)):
        print(f"{name:7} {'running pid ' + str(pid) if pid else 'stopped'}  127.0.0.1:{port}")
    return 0 if status.running else 3
