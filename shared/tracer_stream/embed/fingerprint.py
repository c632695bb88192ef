"""A fingerprint of an embedder's numerics: a few reference texts and the vectors it gave them.

The identity (:mod:`tracer_stream.embed.identity`) names the model and recipe; it cannot see
the runtime. A different onnxruntime, a CPU with another instruction set, or a remote endpoint
that swapped its model can give other vectors under the same identity, and a certificate is
only about the vectors it was calibrated on. A model records :func:`numerics_fingerprint` of
the embedder that made its training vectors (under :data:`MANIFEST_KEY` of its manifest); a
router re-embeds the reference texts at load and :func:`numerics_mismatch` says whether they
still agree within the recorded tolerance (minimum cosine over the reference texts).

>>> from tracer_stream.embed.hashing import HashEmbedder
>>> recorded = numerics_fingerprint(HashEmbedder(dim=32))
>>> numerics_mismatch(HashEmbedder(dim=32), recorded) is None
True
>>> numerics_mismatch(HashEmbedder(dim=16), recorded)
'reference vectors have 16 dimensions, the model recorded 32'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tracer_stream.embed.base import Embedder

__all__ = ["MANIFEST_KEY", "REFERENCE_TEXTS", "TOLERANCE", "numerics_fingerprint",
           "numerics_mismatch"]

MANIFEST_KEY = "embedder_numerics"
"""Where a model's manifest keeps the fingerprint."""

REFERENCE_TEXTS: tuple[str, ...] = (
    "I am still waiting on my card?",
    "what is the exchange rate for euros",
    "Can you set an alarm for 7 am tomorrow and remind me to call the bank?",
    "The cat sat on the mat. [SEP] A cat is sitting.",
    "",
)
"""Short and long, one NLI pair, one empty text: they exercise padding-sensitive paths."""

TOLERANCE = 0.9999
"""Default minimum cosine between recorded and re-embedded reference vectors (batch
invariance is held to the same bound, see ``tests/unit/embed/test_batch_invariance.py``)."""

_DECIMALS = 7


def numerics_fingerprint(embedder: Embedder, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """JSON-able fingerprint: the reference texts, ``embedder``'s vectors for them (each text
    embedded alone) and the tolerance a later check applies."""
    vectors = _embed_alone(embedder, REFERENCE_TEXTS)
    return {
        "embedder": embedder.identity.id,
        "texts": list(REFERENCE_TEXTS),
        "vectors": np.round(vectors.astype(np.float64), _DECIMALS).tolist(),
        "min_cosine": float(tolerance),
    }


def numerics_mismatch(embedder: Embedder, recorded: Mapping[str, Any] | None) -> str | None:
    """None when ``embedder`` reproduces the recorded reference vectors within tolerance (or
    nothing was recorded); otherwise a one-line reason."""
    if recorded is None:
        return None
    try:
        texts = [str(t) for t in recorded["texts"]]
        want = np.asarray(recorded["vectors"], dtype=np.float64)
        tolerance = float(recorded["min_cosine"])
    except (KeyError, TypeError, ValueError):
        return "the recorded embedder fingerprint is malformed"
    got = _embed_alone(embedder, texts).astype(np.float64)
    if want.ndim != 2 or want.shape[0] != len(texts):
        return "the recorded embedder fingerprint is malformed"
    if got.shape[1] != want.shape[1]:
        return f"reference vectors have {got.shape[1]} dimensions, the model recorded " \
               f"{want.shape[1]}"
    cosine = float(_cosines(got, want).min())
    if cosine < tolerance:
        return f"reference vectors moved: min cosine {cosine:.6f} < {tolerance}"
    return None


def _embed_alone(embedder: Embedder, texts: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.vstack([embedder.embed([t]) for t in texts])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine; two all-zero rows count as identical, one all-zero row as opposite."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300)
    return np.where(both_zero, 1.0, np.where((na == 0) | (nb == 0), -1.0, cos))
