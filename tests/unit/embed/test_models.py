"""Contract tests run against every embedder, and the MiniLM family's fidelity.

Loads the packaged MiniLM (torch), its int8 ONNX export and the static distillation once per
module. The first run on a machine exports and distils into the cache (~1 min); later runs reuse
the cached files.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.unit.embed.embedding_server import running
from tracer_stream.embed import Embedder, load_embedder

pytestmark = pytest.mark.unit

SPECS = ["hash:64", "minilm", "minilm-onnx", "static", "http"]
TEXTS = [
    "I am still waiting on my card?",
    "What can I do if my card still hasn't arrived after 2 weeks?",
    "how do I top up with apple pay",
    "what is the exchange rate for euros",
    "",
    "Ünïcödé ☃ text, with punctuation!!!",
]
_loaded: dict[str, Embedder] = {}


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with running(dim=24) as srv:
        yield srv.url


def _get(spec: str, http_url: str) -> Embedder:
    if spec not in _loaded:
        small_batches = {} if spec in ("hash:64", "static") else {"batch_size": 4}
        _loaded[spec] = load_embedder(http_url if spec == "http" else spec, **small_batches)
    return _loaded[spec]


@pytest.mark.parametrize("spec", SPECS)
def test_contract(spec: str, http_url: str) -> None:
    emb = _get(spec, http_url)
    ref = emb.identity
    x = emb.embed(TEXTS)
    assert x.shape == (len(TEXTS), ref.dim) and x.dtype == np.float32
    assert np.isfinite(x).all()
    if ref.normalized:
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-4)
    assert emb.embed([]).shape == (0, ref.dim)
    again = emb.embed(list(reversed(TEXTS)))[::-1]
    assert float(np.min((x * again).sum(axis=1))) > 0.97  # order restored (int8: batch noise)
    assert len(ref.fingerprint) == 64 and ref.id.startswith(f"{ref.name}/{ref.dim}/")


def test_identities_are_distinct_and_stable(http_url: str) -> None:
    refs = [_get(s, http_url).identity for s in SPECS]
    assert len({r.fingerprint for r in refs}) == len(refs)
    assert load_embedder("minilm-onnx").identity == _get("minilm-onnx", http_url).identity
    fp32 = load_embedder("minilm-onnx", quantize=False).identity
    assert fp32.fingerprint != _get("minilm-onnx", http_url).identity.fingerprint


def test_onnx_int8_matches_torch(http_url: str) -> None:
    torch_x = _get("minilm", http_url).embed(TEXTS)
    onnx_x = _get("minilm-onnx", http_url).embed(TEXTS)
    cos = (torch_x * onnx_x).sum(axis=1)
    assert float(cos.mean()) >= 0.99 and float(cos.min()) >= 0.97, cos


def test_onnx_single_batches_are_batch_invariant() -> None:
    emb = load_embedder("minilm-onnx", batch_size=1)
    alone = emb.embed(TEXTS[:1])
    together = emb.embed(TEXTS)[:1]
    np.testing.assert_allclose(alone, together, atol=1e-6)


def test_minilm_family_ranks_paraphrases_first(http_url: str) -> None:
    for spec in ("minilm", "minilm-onnx", "static"):
        x = _get(spec, http_url).embed(TEXTS[:4])
        sims = x[0] @ x[1:4].T
        assert int(np.argmax(sims)) == 0, (spec, sims)
