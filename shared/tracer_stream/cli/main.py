"""Entry point of the ``tracer-stream`` console script.

Every public module of :mod:`tracer_stream.cli` (for example ``stack.py``) defines
``register(subparsers)``, which adds its sub-command and sets ``handler`` on the parser
defaults. A handler takes the parsed arguments and returns the process exit code. Heavy imports
belong inside handlers so that ``tracer-stream --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from tracer_stream import __version__, cli
from tracer_stream.errors import TracerStreamError

log = logging.getLogger("tracer_stream.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracer-stream",
        description="Certified LLM-to-surrogate routing for classification traffic.",
    )
    parser.add_argument("--version", action="version", version=f"tracer-stream {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "main":
            continue
        module = importlib.import_module(f"{cli.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from tracer_stream.config import redact_environment_secrets, redact_known

    redact_environment_secrets()  # no configured secret reaches a log line or an error
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except TracerStreamError as exc:
        print(f"error: {redact_known(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`tracer-stream ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
