"""Embedding one batch: cache lookups first, the embedder for the misses (each distinct text
once), then the new rows back into the cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracer_stream.embed import Embedder
from tracer_stream.routing.cache import EmbeddingCache

log = logging.getLogger(__name__)


@dataclass
class EmbeddedBatch:
    """Rows for the texts (``None`` when the embedder failed) and what it cost."""

    rows: np.ndarray | None
    hits: int
    misses: int
    seconds: float
    error: str | None = None


def embed_with_cache(embedder: Embedder, cache: EmbeddingCache | None,
                     texts: Sequence[str]) -> EmbeddedBatch:
    """Embed ``texts`` (float32 ``(n, dim)``), reading and filling the cache."""
    start = time.perf_counter()
    ref = embedder.identity
    cached = cache.get_many(ref.id, texts, ref.dim) if cache is not None else [None] * len(texts)
    missing = sorted({t for t, row in zip(texts, cached, strict=True) if row is None})
    try:
        fresh = embedder.embed(missing) if missing else np.empty((0, ref.dim), np.float32)
        fresh = np.asarray(fresh, dtype=np.float32)
        if fresh.shape != (len(missing), ref.dim):
            raise ValueError(f"embedder returned shape {fresh.shape}, "
                             f"expected {(len(missing), ref.dim)}")
    except Exception as exc:  # the requests are deferred without an embedding
        log.error("embedder %s failed on %d texts: %s", ref.id, len(missing), exc)
        return EmbeddedBatch(None, 0, len(texts), time.perf_counter() - start, str(exc))
    if cache is not None and missing:
        cache.put_many(ref.id, missing, fresh)
    index = {t: i for i, t in enumerate(missing)}
    rows = np.empty((len(texts), ref.dim), dtype=np.float32)
    for i, (text, row) in enumerate(zip(texts, cached, strict=True)):
        rows[i] = row if row is not None else fresh[index[text]]
    hits = sum(row is not None for row in cached)
    return EmbeddedBatch(rows, hits, len(texts) - hits, time.perf_counter() - start)
