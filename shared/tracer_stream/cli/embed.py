"""``tracer-stream embed warmup | info``: prepare and inspect embedders.

``warmup`` builds each named embedder once, which writes its derived files (the ONNX export,
the static token table) to the cache directory, and embeds a sample text to prove it works.
The image build runs it so pods start without exporting anything. ``info`` prints an
embedder's identity, the value models record and routers check.
"""

from __future__ import annotations

import argparse
import time

_SAMPLE = ["where is my card?"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("embed", help="prepare (warm up) and inspect embedders")
    actions = parser.add_subparsers(dest="action", required=True)
    warmup = actions.add_parser("warmup", help="build embedders and cache their derived files")
    warmup.add_argument("specs", nargs="*", default=["minilm-onnx"],
                        help="embedder specs (default: minilm-onnx)")
    warmup.set_defaults(handler=_warmup)
    info = actions.add_parser("info", help="print an embedder's identity")
    info.add_argument("spec", help="embedder spec, e.g. minilm-onnx, static, hash:256")
    info.set_defaults(handler=_info)


def _warmup(args: argparse.Namespace) -> int:
    from tracer_stream.embed import load_embedder
    from tracer_stream.embed.base import cache_root

    print(f"cache directory: {cache_root()}")
    for spec in args.specs:
        started = time.monotonic()
        embedder = load_embedder(spec)
        vectors = embedder.embed(_SAMPLE)
        print(f"{spec}: ready in {time.monotonic() - started:.1f} s, "
              f"identity {embedder.identity.id}, dimension {vectors.shape[1]}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from tracer_stream.embed import load_embedder

    ref = load_embedder(args.spec).identity
    print(f"id           {ref.id}")
    print(f"name         {ref.name}")
    print(f"dimension    {ref.dim}")
    print(f"normalized   {ref.normalized}")
    print(f"fingerprint  {ref.fingerprint}")
    return 0
