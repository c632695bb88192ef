"""Hashing embedder, spec parsing, length batching and the disk cache (no model files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracer_stream.embed import EMBEDDERS, Embedder, EmbedderRef, load_embedder
from tracer_stream.embed.base import embed_by_length
from tracer_stream.embed.cache import EmbeddingDiskCache
from tracer_stream.embed.hashing import HashEmbedder
from tracer_stream.errors import EmbedderError

pytestmark = pytest.mark.unit


def test_hash_embedder_is_deterministic_normalised_and_meaningful() -> None:
    emb = load_embedder("hash:128")
    assert isinstance(emb, Embedder)
    texts = ["my card has not arrived", "my card still has not arrived", "exchange rates", ""]
    x = emb.embed(texts)
    assert x.shape == (4, 128) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x, HashEmbedder(dim=128).embed(texts))
    assert x[0] @ x[1] > x[0] @ x[2] + 0.3


def test_hash_identity_is_stable_and_tracks_parameters() -> None:
    ref = HashEmbedder(dim=64).identity
    assert ref.id == "hash/64/" + ref.fingerprint[:12]
    assert HashEmbedder(dim=64).identity == ref
    assert HashEmbedder(dim=65).identity.fingerprint != ref.fingerprint
    assert HashEmbedder(dim=64, ngrams=(3,)).identity.fingerprint != ref.fingerprint
    assert EmbedderRef.from_dict(ref.to_dict()) == ref
    # A snapshot: the hashing scheme must not change silently (it would orphan models).
    snapshot = [0.0, 0.0, 0.0, 0.0, -0.426, -0.426, 0.426, 0.675]
    np.testing.assert_allclose(HashEmbedder(dim=8).embed(["abc"])[0], snapshot, atol=1e-3)


def test_specs() -> None:
    assert set(EMBEDDERS) >= {"minilm", "minilm-onnx", "static", "hash", "http", "https"}
    assert load_embedder("hash").identity.dim == 256
    with pytest.raises(EmbedderError, match="unknown embedder"):
        load_embedder("word2vec")
    with pytest.raises(EmbedderError, match="integer"):
        load_embedder("hash:big")
    with pytest.raises(EmbedderError):
        load_embedder("hash:1")


def test_embed_by_length_batches_similar_lengths_and_restores_order() -> None:
    texts = ["x" * n for n in (5, 1, 9, 3, 7, 2, 8)]
    seen: list[list[str]] = []

    def fake(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        return np.array([[len(t), 0.0] for t in batch], dtype=np.float32)

    out = embed_by_length(texts, 3, fake, 2)
    assert out[:, 0].tolist() == [len(t) for t in texts]
    assert [[len(t) for t in b] for b in seen] == [[1, 2, 3], [5, 7, 8], [9]]
    assert embed_by_length([], 3, fake, 2).shape == (0, 2)


def test_disk_cache_keys_on_identity_and_texts(tmp_path: Path) -> None:
    cache = EmbeddingDiskCache(tmp_path)
    a, b = HashEmbedder(dim=16), HashEmbedder(dim=32)
    texts = ["one", "two"]
    assert cache.get(a.identity, texts) is None
    x = cache.get_or_compute(a, texts)
    np.testing.assert_array_equal(cache.get(a.identity, texts), x)
    assert cache.get(b.identity, texts) is None
    assert cache.get(a.identity, texts[::-1]) is None
    assert cache.get(a.identity, ["one", "two", ""]) is None
    assert cache.path(a.identity, ["ab", "c"]) != cache.path(a.identity, ["a", "bc"])
    np.save(cache.path(a.identity, ["zz"]), np.zeros((3, 16), dtype=np.float32))
    assert cache.get(a.identity, ["zz"]) is None  # wrong shape: treated as a miss
    assert [p.suffix for p in tmp_path.iterdir()] == [".npy", ".npy"]
