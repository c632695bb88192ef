"""The HTTP embedder against a real local server speaking the OpenAI embeddings protocol."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from tests.unit.embed.embedding_server import EmbeddingServer, running
from tracer_stream.embed import load_embedder
from tracer_stream.embed.remote import HttpEmbedder, endpoint_url
from tracer_stream.errors import EmbedderError

pytestmark = pytest.mark.unit

KEY = "sk-test-SECRET-123"
TEXTS = ["short", "a much longer text about a card that never arrived", "", "mid length"]


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    with running(dim=16, api_key=KEY) as srv:
        yield srv


def test_endpoint_url_forms() -> None:
    assert endpoint_url("http://h:1") == "http://h:1/v1/embeddings"
    assert endpoint_url("http://h:1/v1/") == "http://h:1/v1/embeddings"
    assert endpoint_url("http://h:1/x/v1/embeddings") == "http://h:1/x/v1/embeddings"


def test_embeds_in_order_normalised_and_probes_dim(server: EmbeddingServer) -> None:
    emb = load_embedder(server.url, api_key=KEY, model="m1", batch_size=2, backoff=0.01)
    assert emb.identity.dim == 16 and emb.identity.normalized
    assert emb.identity.name == "http:m1"
    x = emb.embed(TEXTS)
    expected = server.backend.embed(TEXTS)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert x.dtype == np.float32
    sent = [r["input"] for r in server.requests[1:]]  # the first request is the dim probe
    assert [len(b) for b in sent] == [2, 2]
    assert sorted(map(len, sent[0])) == sorted(map(len, sorted(TEXTS, key=len)[:2]))
    assert all(r["model"] == "m1" and r["encoding_format"] == "float" for r in server.requests)
    assert set(server.auth_headers) == {f"Bearer {KEY}"}


def test_retries_429_and_5xx_with_backoff(server: EmbeddingServer) -> None:
    emb = HttpEmbedder(server.url, api_key=KEY, dim=16, backoff=0.01, max_retries=3)
    server.script = [429, 503, 500]
    server.retry_after = "0"
    x = emb.embed(["hello"])
    assert x.shape == (1, 16)
    assert len(server.requests) == 4


def test_gives_up_after_max_retries(server: EmbeddingServer) -> None:
    emb = HttpEmbedder(server.url, api_key=KEY, dim=16, backoff=0.01, max_retries=2)
    server.script = [503, 503, 503, 503]
    with pytest.raises(EmbedderError) as err:
        emb.embed(["hello"])
    assert err.value.context["status"] == 503
    assert len(server.requests) == 3


def test_client_error_is_not_retried_and_key_is_never_shown(
    server: EmbeddingServer, caplog: pytest.LogCaptureFixture
) -> None:
    emb = HttpEmbedder(server.url, api_key=KEY, dim=16, backoff=0.01)
    server.script = [429]
    caplog.set_level(logging.DEBUG)
    emb.embed(["x"])
    bad = HttpEmbedder(server.url, api_key="wrong", dim=16, backoff=0.01)
    with pytest.raises(EmbedderError) as err:
        bad.embed(["x"])
    assert err.value.context["status"] == 401
    assert len(server.requests) == 3
    for shown in (repr(emb), str(err.value), caplog.text):
        assert KEY not in shown and "wrong" not in shown


def test_timeout_is_retried_then_reported(server: EmbeddingServer) -> None:
    emb = HttpEmbedder(server.url, api_key=KEY, dim=16, timeout=0.2, backoff=0.01,
                       max_retries=1)
    server.delay_s = 0.6
    with pytest.raises(EmbedderError, match="request failed"):
        emb.embed(["slow"])
    assert len(server.requests) == 2


def test_wrong_dimension_is_refused(server: EmbeddingServer) -> None:
    emb = HttpEmbedder(server.url, api_key=KEY, dim=8, backoff=0.01)
    with pytest.raises(EmbedderError, match="wrong dimension"):
        emb.embed(["x"])


def test_fingerprint_depends_on_url_model_and_dim(server: EmbeddingServer) -> None:
    a = HttpEmbedder(server.url, api_key=KEY, model="a", dim=16)
    b = HttpEmbedder(server.url, api_key=KEY, model="b", dim=16)
    c = HttpEmbedder(server.url + "/embeddings", api_key=KEY, model="a", dim=16)
    d = HttpEmbedder("http://127.0.0.1:9/v1", api_key=KEY, model="a", dim=16)
    assert a.identity == c.identity
    assert len({a.identity.fingerprint, b.identity.fingerprint, d.identity.fingerprint}) == 3
    assert KEY not in str(a.identity.to_dict())
