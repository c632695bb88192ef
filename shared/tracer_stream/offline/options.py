"""Command-line options shared by the offline commands (argparse only: cheap to import)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_embedding_options", "add_fit_options", "add_key_option", "add_quiet_option",
           "alpha_list", "probability"]


def probability(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1: {text}")
    return value


def alpha_list(text: str) -> tuple[float, ...]:
    """An argparse type: comma-separated α values, e.g. ``0.9,0.95,0.98``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated values such as 0.9,0.95")
    return tuple(probability(p) for p in parts)


def add_embedding_options(parser: argparse.ArgumentParser, *, for_fit: bool) -> None:
    """``--embeddings``, ``--embedder`` and ``--no-cache``."""
    parser.add_argument("--embeddings", type=Path, metavar="X.npy",
                        help="precomputed embeddings, one row per trace in file order")
    default = ("minilm-onnx; with --embeddings: declares who made them" if for_fit
               else "the model's own embedder")
    parser.add_argument("--embedder", metavar="SPEC",
                        help=f"embedder spec: minilm-onnx, minilm, static, hash:DIM, "
                             f"http(s)://... (default: {default})")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="do not read or write the embedding disk cache "
                             "($TRACER_STREAM_CACHE_DIR/embeddings)")


def add_fit_options(parser: argparse.ArgumentParser, *, alphas: str, zoo: str) -> None:
    """α, δ, the frontier, the zoo, the seed and the calibration share."""
    parser.add_argument("traces", type=Path, metavar="TRACES.jsonl",
                        help="trace file: JSON lines {text, label} or {input, teacher}, "
                             "optionally gzip-compressed")
    parser.add_argument("--alpha", type=probability, default=0.95,
                        help="target agreement with the teacher on handled traffic "
                             "(default: 0.95)")
    parser.add_argument("--delta", type=probability, default=0.05,
                        help="risk level: the certificate holds with probability 1 - δ "
                             "(default: 0.05)")
    parser.add_argument("--alphas", type=alpha_list, default=alpha_list(alphas),
                        help=f"α values of the frontier, comma-separated; --alpha is added "
                             f"(default: {alphas})")
    parser.add_argument("--zoo", choices=["fast", "default", "full"], default=zoo,
                        help=f"surrogates to try (default: {zoo})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--calibration-fraction", type=probability, default=0.3,
                        help="share of traces (by a hash of their id) held out to calibrate "
                             "(default: 0.3)")
    add_embedding_options(parser, for_fit=True)


def add_key_option(parser: argparse.ArgumentParser, *, sign: bool = False) -> None:
    """``--signing-key-env VAR`` (``sign``: for ``fit``) or ``--verify-keys-env VAR``."""
    if sign:
        parser.add_argument("--signing-key-env", dest="key_env", metavar="VAR",
                            help="environment variable holding the Ed25519 private key that "
                                 "signs the model (default: TRACER_STREAM_MODEL_SIGNING_KEY)")
        return
    parser.add_argument("--verify-keys-env", dest="key_env", metavar="VAR",
                        help="environment variable holding the trusted public keys, "
                             "comma-separated (default: TRACER_STREAM_MODEL_VERIFY_KEYS plus "
                             "the public half of TRACER_STREAM_MODEL_SIGNING_KEY)")


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bars or notes on stderr."""
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or notes on stderr")
