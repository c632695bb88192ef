"""``tracer-stream fit TRACES.jsonl``: fit a certified routing model and write it, signed."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracer_stream.offline.options import add_fit_options, add_key_option, add_quiet_option


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fit", help="fit a certified routing model from a trace file",
        description="Embed the traces, fit the surrogate zoo, choose a policy per α on the "
                    "validation split and certify it on the calibration split (exact binomial "
                    "fixed-sequence test). Writes a signed model file and prints the "
                    "certificate; progress goes to stderr.")
    add_fit_options(parser, alphas="0.9,0.95,0.98", zoo="default")
    parser.add_argument("--out", type=Path, default=Path("model.tsm"),
                        help="model file to write (default: model.tsm)")
    add_key_option(parser, sign=True)
    add_quiet_option(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.offline.fitting import FitRequest, fit_file
    from tracer_stream.offline.models import save_model, signing_key
    from tracer_stream.offline.progress import Feedback
    from tracer_stream.offline.summary import certificate_text, frontier_text
    from tracer_stream.report.texts import splits_text

    feedback = Feedback(args.quiet)
    key = signing_key(args.key_env)  # a missing key fails before the slow work
    art = fit_file(FitRequest.from_args(args), feedback)
    size = save_model(art, args.out, key)
    m = art.manifest
    print(f"fitted on {m['n_traces']:,} traces ({splits_text(m)}), {len(m['labels']):,} labels,"
          f" embedder {m['embedder']['id']}")
    print(certificate_text(m))
    print("frontier:")
    print(frontier_text(m["frontier"]))
    print(f"model written to {args.out} ({size / 1e6:.2f} MB, signed)")
    return 0
