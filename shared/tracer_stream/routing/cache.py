"""The embedding cache in Redis: ``P emb:{embedder id}:{sha256(text)}`` → float32 bytes, with a
TTL. Repeated texts skip the embedder; a different embedder never sees another's vectors.

Every call goes through the :class:`RedisGuard`: with Redis down, lookups miss and writes are
skipped, and the router embeds everything itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import redis

from tracer_stream.routing.guard import RedisGuard


class EmbeddingCache:
    """Looks up and stores embedding rows by embedder identity and text."""

    def __init__(self, client: redis.Redis, guard: RedisGuard, *, prefix: str = "tracer:",
                 ttl_s: int = 7 * 24 * 3600) -> None:
        self._client = client
        self._guard = guard
        self._prefix = prefix
        self.ttl_s = ttl_s

    def key(self, embedder_id: str, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}emb:{embedder_id}:{digest}"

    def get_many(self, embedder_id: str, texts: Sequence[str], dim: int
                 ) -> list[np.ndarray | None]:
        """One row (float32, ``dim``) per text, or ``None`` where it is not cached."""
        if not texts or self.ttl_s == 0:
            return [None] * len(texts)
        keys = [self.key(embedder_id, t) for t in texts]
        missing: list[bytes | str | None] = [None] * len(keys)
        raw = self._guard.call(lambda: self._client.mget(keys), missing, "embedding_cache_read")
        rows: list[np.ndarray | None] = []
        for value in raw:
            row = np.frombuffer(value, dtype=np.float32) if isinstance(value, bytes) else None
            rows.append(row if row is not None and row.shape == (dim,) else None)
        return rows

    def put_many(self, embedder_id: str, texts: Sequence[str], rows: np.ndarray) -> None:
        """Store rows (best effort: skipped while Redis is down)."""
        if not texts or self.ttl_s == 0:
            return
        matrix = np.ascontiguousarray(rows, dtype=np.float32)

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            for text, row in zip(texts, matrix, strict=True):
                pipe.set(self.key(embedder_id, text), row.tobytes(), ex=self.ttl_s)
            pipe.execute()

        self._guard.call(write, None, "embedding_cache_write")
