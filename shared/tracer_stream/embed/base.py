"""The embedder contract and helpers shared by the implementations."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence, Sized
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from tracer_stream.embed.identity import EmbedderRef

__all__ = ["Embedder", "cache_root", "embed_by_length", "l2_normalize"]

CACHE_ENV = "TRACER_STREAM_CACHE_DIR"
T = TypeVar("T", bound=Sized)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into a float32 matrix ``(n, identity.dim)``.

    Rows are L2-normalised when ``identity.normalized`` is true. A text's row must not depend
    on the other texts of the call (cosine ≥ 0.9999; checked for every built-in embedder by
    ``tests/unit/embed/test_batch_invariance.py``): the certificate is about the vectors
    calibration saw, and the router embeds in micro-batches of any size.
    """

    @property
    def identity(self) -> EmbedderRef: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where derived model files live: the argument, else ``$TRACER_STREAM_CACHE_DIR``, else
    ``~/.cache/tracer-stream``. Created on demand."""
    chosen = cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tracer-stream"
    root = Path(chosen).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


def embed_by_length(
    items: Sequence[T],
    batch_size: int,
    embed_batch: Callable[[list[T]], np.ndarray],
    dim: int,
) -> np.ndarray:
    """Embed ``items`` (texts, or token-id lists) in chunks of similar ``len`` and return the
    rows in the original order. Sorting by length keeps padding, i.e. wasted compute, low."""
    n = len(items)
    out = np.empty((n, dim), dtype=np.float32)
    if n == 0:
        return out
    order = np.argsort(np.fromiter((len(t) for t in items), dtype=np.int64, count=n),
                       kind="stable")
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        out[idx] = embed_batch([items[i] for i in idx])
    return out
