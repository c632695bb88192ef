"""A deterministic, dependency-free hashing embedder for tests, CI and demos.

Features are lower-cased words and character n-grams of the text padded with spaces; each is
mapped by CRC-32 to a bucket and a sign (signed feature hashing), counts are damped with
``log1p`` and rows are L2-normalised. Same text, same vector, on every machine and process.

>>> emb = HashEmbedder(dim=64)
>>> x = emb.embed(["card arrived", "card arrived", "exchange rate"])
>>> x.shape, bool((x[0] == x[1]).all()), round(float(x[0] @ x[0]), 4)
((3, 64), True, 1.0)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from tracer_stream.embed.base import l2_normalize
from tracer_stream.embed.identity import EmbedderRef, digest_params
from tracer_stream.errors import EmbedderError

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)
_RECIPE = "hash-v1"


class HashEmbedder:
    """Signed feature hashing of words (weight ``word_weight``) and char ``ngrams``."""

    def __init__(
        self, dim: int = 256, ngrams: tuple[int, ...] = (3, 4), word_weight: float = 2.0
    ) -> None:
        if dim < 2:
            raise EmbedderError("hash embedder needs dim >= 2", dim=dim)
        self._dim = int(dim)
        self._ngrams = tuple(int(n) for n in ngrams)
        self._word_weight = float(word_weight)
        fp = digest_params(recipe=_RECIPE, dim=self._dim, ngrams=self._ngrams,
                           word_weight=self._word_weight)
        self._identity = EmbedderRef(name="hash", dim=self._dim, normalized=True, fingerprint=fp)

    @property
    def identity(self) -> EmbedderRef:
        return self._identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            self._accumulate(out[row], text)
        return l2_normalize(np.sign(out) * np.log1p(np.abs(out)))

    def _accumulate(self, row: np.ndarray, text: str) -> None:
        lowered = text.lower()
        features: list[tuple[str, float]] = [("w:" + w, self._word_weight)
                                             for w in _WORD.findall(lowered)]
        padded = f" {' '.join(lowered.split())} "
        for n in self._ngrams:
            features.extend(("c:" + padded[i:i + n], 1.0) for i in range(len(padded) - n + 1))
        if not features:
            features.append(("empty", 1.0))
        for feature, weight in features:
            h = zlib.crc32(feature.encode("utf-8"))
            row[h % self._dim] += weight if (h >> 31) & 1 else -weight
