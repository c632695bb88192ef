"""Disk cache of embedding matrices for benchmarks and offline fits.

An entry is keyed by the embedder's full identity and a SHA-256 of the text list (order and
content), and stored as ``.npy``. A changed model, quantisation or dimension changes the
identity, so stale entries are never returned.

>>> import tempfile
>>> from tracer_stream.embed.hashing import HashEmbedder
>>> cache = EmbeddingDiskCache(tempfile.mkdtemp())
>>> emb = HashEmbedder(dim=32)
>>> x = cache.get_or_compute(emb, ["a", "b"])
>>> cache.get(emb.identity, ["a", "b"]).shape
(2, 32)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tracer_stream.embed.base import Embedder, cache_root
from tracer_stream.embed.identity import EmbedderRef

__all__ = ["EmbeddingDiskCache"]


class EmbeddingDiskCache:
    """``.npy`` files under ``directory`` (default: ``<cache root>/embeddings``)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory else cache_root() / "embeddings"
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, identity: EmbedderRef, texts: Sequence[str]) -> Path:
        h = hashlib.sha256()
        for part in (identity.name, str(identity.dim), str(identity.normalized),
                     identity.fingerprint, str(len(texts))):
            h.update(part.encode() + b"\0")
        for text in texts:
            data = text.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little") + data)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in identity.name)
        return self.directory / f"{safe}-{identity.dim}-{h.hexdigest()[:32]}.npy"

    def get(self, identity: EmbedderRef, texts: Sequence[str]) -> np.ndarray | None:
        """The cached matrix, or ``None`` when absent or of the wrong shape."""
        path = self.path(identity, texts)
        if not path.is_file():
            return None
        x = np.load(path)
        if x.shape != (len(texts), identity.dim) or x.dtype != np.float32:
            return None
        return x

    def put(self, identity: EmbedderRef, texts: Sequence[str], x: np.ndarray) -> Path:
        """Store ``x`` atomically (concurrent writers of the same entry are safe)."""
        path = self.path(identity, texts)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.asarray(x, dtype=np.float32))
        os.replace(tmp, path)
        return path

    def get_or_compute(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        """The cached matrix for ``texts``, embedding and storing it on a miss."""
        x = self.get(embedder.identity, texts)
        if x is None:
            x = embedder.embed(texts)
            self.put(embedder.identity, texts, x)
        return x
