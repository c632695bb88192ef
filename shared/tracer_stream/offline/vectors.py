"""Embedding matrices for trace files: precomputed ``.npy`` files or an embedder (with the disk
cache and a progress bar), and the check that they match a model's embedder.

Precomputed embeddings carry no identity of their own. For a fit, ``--embedder SPEC`` next to
``--embeddings`` declares which embedder produced them; without it the model records the
identity ``precomputed/DIM`` and can only route precomputed embeddings again. For routing,
precomputed embeddings are taken to come from the model's embedder (their width is checked).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tracer_stream.embed import Embedder, EmbedderRef, load_embedder
from tracer_stream.embed.cache import EmbeddingDiskCache
from tracer_stream.embed.identity import digest_params
from tracer_stream.errors import ConfigError, EmbedderError
from tracer_stream.learn import Artefact

from .progress import Feedback
from .traces import file_error

__all__ = ["DEFAULT_EMBEDDER", "PRECOMPUTED", "embed_texts", "fit_inputs", "load_matrix",
           "model_inputs", "precomputed_ref", "spec_for"]

DEFAULT_EMBEDDER = "minilm-onnx"
PRECOMPUTED = "precomputed"
_CHUNK = 1024  # texts per embed call: the unit of the progress bar


def load_matrix(path: str | os.PathLike[str], n_rows: int) -> np.ndarray:
    """A float32 ``.npy`` matrix with one row per trace (file order), or a ConfigError."""
    p = Path(path)
    try:
        X = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise file_error(p, f"cannot read the embeddings ({exc})") from None
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise file_error(p, f"embeddings must be a 2-D numeric matrix, got shape {X.shape} "
                            f"of {X.dtype}")
    if len(X) != n_rows:
        raise file_error(p, f"{len(X)} rows, but the trace file has {n_rows} traces (one row "
                            "per trace, in file order)")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise file_error(p, f"row {bad} contains NaN or infinite values")
    return X


def precomputed_ref(X: np.ndarray) -> EmbedderRef:
    """The identity recorded for embeddings of unknown origin: width and normalisation."""
    normalized = bool(np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-3))
    fp = digest_params(recipe="precomputed-v1", dim=int(X.shape[1]), normalized=normalized)
    return EmbedderRef(name=PRECOMPUTED, dim=int(X.shape[1]), normalized=normalized,
                       fingerprint=fp)


def spec_for(ref: EmbedderRef) -> str | None:
    """The embedder spec that rebuilds ``ref``'s embedder, when its name determines one."""
    if ref.name in ("hash", "static"):
        return f"{ref.name}:{ref.dim}"
    if ref.name in ("minilm", "minilm-onnx"):
        return ref.name
    return None


def embed_texts(embedder: Embedder, texts: Sequence[str], feedback: Feedback, *,
                use_cache: bool = True) -> np.ndarray:
    """Embed ``texts`` with a progress bar, reusing the disk cache when allowed."""
    ident = embedder.identity
    cache = EmbeddingDiskCache() if use_cache else None
    if cache is not None and (hit := cache.get(ident, texts)) is not None:
        feedback.note(f"embeddings of {len(texts):,} texts from the cache ({ident.id})")
        return hit
    out = np.empty((len(texts), ident.dim), dtype=np.float32)
    with feedback.count(f"embedding ({ident.id})", len(texts)) as advance:
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start:start + _CHUNK]
            out[start:start + len(chunk)] = embedder.embed(chunk)
            advance(len(chunk))
    if cache is not None:
        cache.put(ident, texts, out)
    return out


def fit_inputs(texts: Sequence[str], *, embeddings: Path | None, embedder: str | None,
               feedback: Feedback, use_cache: bool = True) -> tuple[np.ndarray, EmbedderRef]:
    """The matrix to fit on and the identity the model records (see the module docstring)."""
    if embeddings is not None:
        X = load_matrix(embeddings, len(texts))
        if embedder is None:
            return X, precomputed_ref(X)
        ref = load_embedder(embedder).identity
        if ref.dim != X.shape[1]:
            raise file_error(embeddings, f"{X.shape[1]} columns, but embedder {embedder!r} "
                                         f"produces {ref.dim}", kind=EmbedderError)
        return X, ref
    model = load_embedder(embedder or DEFAULT_EMBEDDER)
    return embed_texts(model, texts, feedback, use_cache=use_cache), model.identity


def model_inputs(art: Artefact, texts: Sequence[str], *, embeddings: Path | None,
                 embedder: str | None, feedback: Feedback, use_cache: bool = True
                 ) -> np.ndarray:
    """The matrix to route ``texts`` with ``art``, refused when it is not from its embedder."""
    expected = art.embedder
    if embedder is not None:
        art.check_embedder(load_embedder(embedder).identity)
    if embeddings is not None:
        X = load_matrix(embeddings, len(texts))
        if X.shape[1] != expected.dim:
            raise file_error(embeddings, f"{X.shape[1]} columns, but the model's embedder "
                                         f"{expected.id} produces {expected.dim}",
                             kind=EmbedderError)
        if expected.name == PRECOMPUTED:
            art.check_embedder(precomputed_ref(X))
        return X
    spec = embedder or spec_for(expected)
    if spec is None:
        raise ConfigError(f"the model was fit on embeddings from {expected.id!r}, which cannot "
                          "be rebuilt from its name: pass --embeddings (one row per trace) or "
                          "--embedder SPEC")
    model = load_embedder(spec)
    art.check_embedder(model.identity)
    return embed_texts(model, texts, feedback, use_cache=use_cache)
