"""``tracer-stream scan TRACES.jsonl``: how much of this traffic could be certified, per α."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracer_stream.offline.options import add_fit_options, add_quiet_option


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scan", help="how much of a trace file's traffic could be certified at each α",
        description="Fit on the trace file without saving a model and report, for each α, the "
                    "coverage the gate certifies or how many more traces it expects to need; "
                    "then, per label, how far each label is from a certificate of its own.")
    add_fit_options(parser, alphas="0.8,0.85,0.9,0.95,0.98,0.99", zoo="fast")
    parser.add_argument("--json", type=Path, metavar="OUT.json",
                        help="also write the scan as JSON")
    parser.add_argument("--top", type=int, default=10,
                        help="labels to list by traces needed (default: 10)")
    add_quiet_option(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tracer_stream.offline.fitting import FitRequest, scan_file
    from tracer_stream.offline.progress import Feedback
    from tracer_stream.offline.summary import certificate_text, frontier_text, label_needs_text
    from tracer_stream.report import render_json

    scan = scan_file(FitRequest.from_args(args), Feedback(args.quiet))
    print(f"scan of {scan['traces']}: {scan['n_traces']:,} traces, {scan['n_labels']:,} labels, "
          f"{scan['n_cal']:,} of them calibrate; embedder {scan['embedder']}, "
          f"{scan['zoo']} zoo")
    print(f"coverage the gate certifies at each α (δ = {scan['delta']:g}, on calibration):")
    print(frontier_text(scan["frontier"]))
    print(certificate_text(scan["certificate"]))
    print(f"per label at α = {scan['alpha']:g} (a certificate of its own at δ/L = "
          f"{scan['per_label_delta']:.2g}, forecast on the calibration split):")
    print(label_needs_text(scan["labels"], args.top))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(render_json(scan), encoding="utf-8")
        print(f"scan written to {args.json}")
    return 0
