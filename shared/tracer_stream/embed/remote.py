"""An OpenAI-compatible ``/v1/embeddings`` endpoint as an embedder (httpx).

The URL may be the server root (``http://host:8000``), the API base (``.../v1``) or the full
endpoint (``.../v1/embeddings``). Requests carry ``{"model", "input", "encoding_format":
"float"}``; rows come back ordered by ``index`` and are L2-normalised here. Timeouts are
explicit; 429 and 5xx answers and transport errors are retried with exponential backoff
(honouring ``Retry-After``). The API key is sent as a bearer token and never logged or shown in
``repr``. The identity's fingerprint is a digest of the endpoint URL and model name (override it
with ``fingerprint=`` when the same model is served from several URLs).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from tracer_stream.embed.base import embed_by_length, l2_normalize
from tracer_stream.embed.identity import EmbedderRef, digest_params
from tracer_stream.errors import EmbedderError

__all__ = ["HttpEmbedder", "endpoint_url"]

log = logging.getLogger(__name__)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_DELAY = 60.0


def endpoint_url(url: str) -> str:
    """Normalise a root, ``/v1`` or full ``/v1/embeddings`` URL to the embeddings endpoint."""
    base = url.rstrip("/")
    if base.endswith("/embeddings"):
        return base
    if base.endswith("/v1"):
        return base + "/embeddings"
    return base + "/v1/embeddings"


class HttpEmbedder:
    """Client for an OpenAI-compatible embeddings endpoint.

    ``dim=None`` probes the endpoint once with a short text at construction time.
    ``transport`` lets tests substitute an httpx transport.
    """

    def __init__(
        self,
        url: str,
        model: str = "default",
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        fingerprint: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = endpoint_url(url)
        self._model = model
        self._batch_size = int(batch_size)
        self._max_retries = int(max_retries)
        self._backoff = float(backoff)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout),
                                    transport=transport)
        if dim is None:
            dim = int(self._post(["dimension probe"]).shape[1])
        fp = fingerprint or digest_params(recipe="http-v1", url=self._url, model=model, dim=dim)
        self._identity = EmbedderRef(name=f"http:{model}", dim=int(dim), normalized=True,
                                     fingerprint=fp)

    @property
    def identity(self) -> EmbedderRef:
        return self._identity

    def __repr__(self) -> str:
        return f"HttpEmbedder(url={self._url!r}, model={self._model!r}, id={self.identity.id!r})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed_by_length(list(texts), self._batch_size, self._embed_batch,
                               self._identity.dim)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        rows = self._post(batch)
        if rows.shape[1] != self._identity.dim:
            raise EmbedderError("endpoint returned vectors of the wrong dimension",
                                url=self._url, expected=self._identity.dim, got=rows.shape[1])
        return rows

    def _post(self, batch: list[str]) -> np.ndarray:
        payload = {"model": self._model, "input": batch, "encoding_format": "float"}
        attempt = 0
        while True:
            attempt += 1
            may_retry = attempt <= self._max_retries
            try:
                resp = self._client.post(self._url, json=payload)
            except httpx.TransportError as exc:
                if not may_retry:
                    raise EmbedderError(f"embedding request failed: {exc!r}", url=self._url,
                                        attempts=attempt) from exc
                self._sleep(attempt, None, repr(exc))
                continue
            if resp.status_code in _RETRY_STATUS and may_retry:
                self._sleep(attempt, resp.headers.get("Retry-After"), f"HTTP {resp.status_code}")
                continue
            if resp.status_code != 200:
                raise EmbedderError("embedding endpoint answered with an error", url=self._url,
                                    status=resp.status_code, body=resp.text[:200],
                                    attempts=attempt)
            return _parse(resp, len(batch), self._url)

    def _sleep(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay = self._backoff * 2 ** (attempt - 1)
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        delay = min(delay, _MAX_DELAY)
        log.warning("embedding request to %s: %s, retry %d in %.2fs", self._url, why,
                    attempt, delay)
        time.sleep(delay)


def _parse(resp: httpx.Response, n: int, url: str) -> np.ndarray:
    try:
        body: Any = resp.json()
        items = sorted(body["data"], key=lambda d: d["index"])
        rows = np.asarray([d["embedding"] for d in items], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbedderError("malformed embeddings response", url=url) from exc
    if rows.ndim != 2 or rows.shape[0] != n:
        raise EmbedderError("embeddings response has the wrong shape", url=url,
                            expected_rows=n, shape=rows.shape)
    return l2_normalize(rows)
