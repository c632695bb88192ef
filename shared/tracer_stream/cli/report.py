"""``tracer-stream report MODEL --traces HELDOUT.jsonl --html out.html [--json out.json]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracer_stream.offline.options import (
    add_embedding_options,
    add_key_option,
    add_quiet_option,
    probability,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report", help="interpretability report of a model on held-out traces (HTML, JSON)",
        description="Route held-out traces with the model and write a self-contained HTML "
                    "page (works offline) and/or the same content as JSON: certificate, "
                    "frontier over α, per-label coverage and agreement, traces needed per "
                    "label, contrastive pairs, disagreement cards, deferral reasons.")
    parser.add_argument("model", type=Path, metavar="MODEL", help="model file from `fit`")
    parser.add_argument("--traces", type=Path, required=True, metavar="HELDOUT.jsonl",
                        help="held-out traces with teacher labels (not used to fit the model)")
    parser.add_argument("--html", type=Path, metavar="OUT.html", help="write the HTML report")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the JSON report")
    parser.add_argument("--alpha", type=probability,
                        help="report on the frontier policy at this α (default: the model's)")
    add_embedding_options(parser, for_fit=False)
    add_key_option(parser)
    add_quiet_option(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.errors import ConfigError
    from tracer_stream.offline.progress import Feedback
    from tracer_stream.offline.routing import ModelRequest, report_file

    if args.html is None and args.json is None:
        raise ConfigError("nothing to write: pass --html OUT.html and/or --json OUT.json")
    doc = report_file(ModelRequest.from_args(args), html=args.html, json=args.json,
                      feedback=Feedback(args.quiet))
    cert, held = doc["certificate"], doc["heldout"]
    state = "certified" if cert["certified"] else f"gate closed ({cert['reason']})"
    agreement = "—" if held["agreement"] is None else f"{held['agreement']:.1%}"
    print(f"α = {cert['alpha']:g}, δ = {cert['delta']:g}: {state}; on {held['n']:,} held-out "
          f"traces coverage {held['coverage']:.1%}, agreement {agreement}")
    for path in (args.html, args.json):
        if path is not None:
            print(f"written: {path}")
    return 0
