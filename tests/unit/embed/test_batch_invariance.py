"""Property: a text's vector does not depend on the batch it is embedded in.

Texts come from ``<repo>/../shared/data`` (skipped when the folder is absent). Each embedder
embeds them one at a time, in shuffled random batches, and in the router's micro-batches
(arrival order, 1..64 texts); every row must match its alone vector with cosine >= 0.9999, and
bitwise for the embedders whose backend computes each row on its own (hashing, static, int8
ONNX). The fast embedders see 3,000 texts, the default int8 ONNX one the 1,000 shortest of a
random sample (ONNX cost grows with length); its fp32 variant, which is compared by cosine only,
300; torch's sentence-transformers, the slowest, the 120 shortest. Random batches go up to 256
texts, larger than the embedders' own chunks, so a large call is covered too.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.unit.embed.embedding_server import running
from tracer_stream.embed import Embedder, load_embedder
from tracer_stream.embed.fingerprint import TOLERANCE

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FILES = ("banking77", "clinc150", "mnli_subset")
ROUTER_MAX_BATCH = 64  # RouterSettings.batch_max_size


def _texts(n: int, shortest: bool, seed: int = 0) -> list[str]:
    if not all((DATA / f"{name}.jsonl.gz").is_file() for name in FILES):
        pytest.skip(f"data sets not found in {DATA} (see the repository README)")
    pool: list[str] = []
    for name in FILES:
        with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            pool.extend(json.loads(line)["text"] for line in fh)
    rng = np.random.default_rng(seed)
    sample = [pool[i] for i in rng.choice(len(pool), size=3 * n if shortest else n,
                                          replace=False)]
    return sorted(sample, key=len)[:n] if shortest else sample


def _random_batches(n: int, rng: np.random.Generator, largest: int) -> Iterator[np.ndarray]:
    order = rng.permutation(n)
    start = 0
    while start < n:
        size = int(rng.integers(1, largest + 1))
        yield order[start:start + size]
        start += size


def _embed_in(emb: Embedder, texts: list[str], batches: Iterator[np.ndarray]) -> np.ndarray:
    out = np.full((len(texts), emb.identity.dim), np.nan, dtype=np.float32)
    for idx in batches:
        out[idx] = emb.embed([texts[i] for i in idx])
    assert np.isfinite(out).all()
    return out


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with running(dim=24) as srv:
        yield srv.url


CASES: dict[str, tuple[Callable[[str], Embedder], int, bool, bool]] = {
    # spec -> (factory given the fake server's URL, texts, shortest only, bitwise)
    "hash": (lambda url: load_embedder("hash:256"), 3000, False, True),
    "static": (lambda url: load_embedder("static"), 3000, False, True),
    "minilm-onnx": (lambda url: load_embedder("minilm-onnx", batch_size=32), 1000, True, True),
    "minilm-onnx-fp32": (lambda url: load_embedder("minilm-onnx", quantize=False,
                                                   batch_size=32), 300, True, False),
    "minilm": (lambda url: load_embedder("minilm", batch_size=32, threads=1), 120, True, False),
    "http": (lambda url: load_embedder(url, batch_size=16), 1000, False, False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vectors_do_not_depend_on_the_batch(name: str, http_url: str) -> None:
    factory, n, shortest, bitwise = CASES[name]
    texts = _texts(n, shortest)
    emb = factory(http_url)
    alone = np.vstack([emb.embed([t]) for t in texts])
    rng = np.random.default_rng(1)
    ways = {
        "random batches": _embed_in(emb, texts, _random_batches(len(texts), rng, 256)),
        "router micro-batches": _embed_in(emb, texts, _micro_batches(len(texts), rng)),
    }
    for way, x in ways.items():
        cos = (alone * x).sum(axis=1) / np.maximum(
            np.linalg.norm(alone, axis=1) * np.linalg.norm(x, axis=1), 1e-12)
        zero = ~alone.any(axis=1) & ~x.any(axis=1)
        worst = float(np.where(zero, 1.0, cos).min())
        assert worst >= TOLERANCE, f"{name}, {way}: min cosine {worst:.6f}"
        if bitwise:
            assert np.array_equal(alone, x), f"{name}, {way}: not bitwise identical"


def _micro_batches(n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Consecutive micro-batches of 1..ROUTER_MAX_BATCH texts in arrival order."""
    start = 0
    while start < n:
        size = int(rng.integers(1, ROUTER_MAX_BATCH + 1))
        yield np.arange(start, min(start + size, n))
        start += size
