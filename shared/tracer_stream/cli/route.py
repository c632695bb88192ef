"""``tracer-stream route MODEL INPUT.jsonl``: batch routing of a file with a model file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracer_stream.offline.options import (
    add_embedding_options,
    add_key_option,
    add_quiet_option,
    probability,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "route", help="route every line of a file: surrogate label or defer to the teacher",
        description="Write one JSON line per input line: id, line, label, accepted, score, "
                    "reason (why it was deferred; null when the surrogate answers). Input lines "
                    "need a text ({text} or {input}); a teacher label, when present, is copied "
                    "and used to report agreement.")
    parser.add_argument("model", type=Path, metavar="MODEL", help="model file from `fit`")
    parser.add_argument("traces", type=Path, metavar="INPUT.jsonl",
                        help="JSON lines with text (or input), optionally gzip-compressed")
    parser.add_argument("--out", type=Path, metavar="ROUTED.jsonl",
                        help="where to write the decisions (default: stdout)")
    parser.add_argument("--alpha", type=probability,
                        help="route with the frontier policy at this α (default: the model's)")
    add_embedding_options(parser, for_fit=False)
    add_key_option(parser)
    add_quiet_option(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.offline.progress import Feedback
    from tracer_stream.offline.routing import ModelRequest, route_file

    summary = route_file(ModelRequest.from_args(args), args.out, Feedback(args.quiet))
    out = sys.stdout if args.out is not None else sys.stderr
    reasons = ", ".join(f"{k} {v:,}" for k, v in summary["reasons"].items()) or "none"
    print(f"routed {summary['n']:,} lines at α = {summary['alpha']:g}: {summary['accepted']:,} "
          f"answered by the surrogate ({summary['coverage']:.1%}), "
          f"{summary['n'] - summary['accepted']:,} deferred ({reasons})", file=out)
    if summary["agreement"] is not None:
        print(f"agreement with the teacher labels in the file on answered lines: "
              f"{summary['agreement']:.1%} of {summary['labelled_accepted']:,}", file=out)
    if args.out is not None:
        print(f"decisions written to {args.out}", file=out)
    return 0
