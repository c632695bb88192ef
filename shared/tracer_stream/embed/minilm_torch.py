"""all-MiniLM-L6-v2 through sentence-transformers and torch on the CPU (the reference path)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tracer_stream.embed.identity import EmbedderRef, digest_params
from tracer_stream.embed.packaged import MAX_SEQ_LENGTH, MINILM_DIM, minilm_digest, minilm_dir
from tracer_stream.extras import needs_extra

__all__ = ["MiniLMEmbedder"]


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 (384-d, normalised), loaded from the offline package.

    ``threads`` caps torch's intra-op threads (``None`` leaves torch's default).
    sentence-transformers already sorts each call's texts by length before batching.
    """

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        with needs_extra("torch", "the 'minilm' embedder"):
            import torch
            from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(int(threads))
        self._model = SentenceTransformer(str(minilm_dir()), device="cpu")
        self._model.max_seq_length = MAX_SEQ_LENGTH
        self._batch_size = int(batch_size)
        fp = digest_params(recipe="st-torch-v1", source=minilm_digest(), max_len=MAX_SEQ_LENGTH)
        self._identity = EmbedderRef(name="minilm", dim=MINILM_DIM, normalized=True,
                                     fingerprint=fp)

    @property
    def identity(self) -> EmbedderRef:
        return self._identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.empty((0, MINILM_DIM), dtype=np.float32)
        x = self._model.encode(list(texts), batch_size=self._batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(x, dtype=np.float32)
