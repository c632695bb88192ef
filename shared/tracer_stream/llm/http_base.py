"""The HTTP plumbing shared by the OpenAI and Anthropic backends.

One :class:`httpx.AsyncClient` per backend carries the auth headers; httpx never logs
headers, and every error raised here is built from the status, the provider's error message
(with the API key redacted) and the exception *type*, never from the request object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from tracer_stream.llm.errors import BackendError
from tracer_stream.llm.retry import is_retryable_status, parse_retry_after

_MAX_DETAIL_CHARS = 300


class HTTPBackend:
    """Base of the JSON-over-HTTP backends: posting, error mapping and clean-up."""

    def __init__(self, *, url: str, headers: Mapping[str, str], secret: str | None,
                 timeout_s: float, max_connections: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.AsyncClient(
            headers=dict(headers), timeout=httpx.Timeout(timeout_s), transport=transport,
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post_json(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body``; the decoded JSON object on 2xx, :class:`BackendError` otherwise."""
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise BackendError(f"{type(exc).__name__} calling {self.url}", reason="timeout",
                               retryable=True) from None
        except httpx.TransportError as exc:
            raise BackendError(f"{type(exc).__name__} calling {self.url}: {self.redact(exc)}",
                               reason="connection_error", retryable=True) from None
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackendError(f"{self.url} answered {response.status_code} without a JSON "
                               f"object: {self._snippet(response)}", reason="bad_response",
                               retryable=False, status=response.status_code)
        return data

    def _status_error(self, response: httpx.Response) -> BackendError:
        status = response.status_code
        retryable = is_retryable_status(status)
        return BackendError(
            f"{self.url} answered HTTP {status}: {self._snippet(response)}",
            reason=f"http_{status}", retryable=retryable, status=status,
            retry_after_s=parse_retry_after(response.headers) if retryable else None,
        )

    def _snippet(self, response: httpx.Response) -> str:
        """The provider's error message (or the start of the body), key redacted."""
        try:
            data = response.json()
        except ValueError:
            data = None
        message: Any = None
        if isinstance(data, dict):
            error = data.get("error")
            message = error.get("message") if isinstance(error, dict) else error
        text = str(message) if message else response.text
        text = " ".join(text.split())
        if len(text) > _MAX_DETAIL_CHARS:
            text = text[:_MAX_DETAIL_CHARS] + "…"
        return self.redact(text)

    def redact(self, value: object) -> str:
        """``str(value)`` with the API key replaced by ``***``."""
        text = str(value)
        return text.replace(self._secret, "***") if self._secret else text


def merge_body(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` updated with ``extra``; a ``None`` value in ``extra`` removes the key."""
    merged = {**body, **extra}
    return {k: v for k, v in merged.items() if v is not None}


def token_count(value: Any) -> int:
    """A usage figure from a response; missing or garbled figures count as 0."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def bad_response(url: str, problem: str) -> BackendError:
    return BackendError(f"{url}: unexpected response ({problem})", reason="bad_response",
                        retryable=False)


__all__ = ["HTTPBackend", "bad_response", "merge_body", "token_count"]
