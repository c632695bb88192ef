"""What the OpenAI and the Anthropic backends share around the official SDK clients.

- :class:`ClientSettings`: base URL, key, timeout, retries, backoff, pool size, transport and
  client-side rate limit, from :class:`~tracer_stream.config.WorkerSettings`.
- The SDK does the retrying (429, 408, 409, 5xx, timeouts, connection errors, honouring
  ``Retry-After`` / ``retry-after-ms``); :class:`Backoff` only decides how long it waits,
  from our settings, through the hook both SDKs call for that
  (``_calculate_retry_timeout``), and records each wait so a labelling knows its retries.
- :class:`SdkBackend`: what both backends set up alike (name, model, options, and the SDK
  client built by :func:`sdk_client` from the settings).
- :func:`http_client`: the SDK's own httpx2 client class (default transport or aiohttp), its
  pool sized to ``max_connections``, and an :class:`aiolimiter.AsyncLimiter` awaited before
  every HTTP request (retries included) when a rate limit is set.
- :func:`backend_error`: a typed SDK error as a :class:`BackendError` with its reason; the
  message carries the status and the provider's error text with the key redacted, never
  request headers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import httpx2
from aiolimiter import AsyncLimiter

from tracer_stream.llm.errors import (
    BAD_RESPONSE,
    CONNECTION_ERROR,
    TIMEOUT,
    BackendError,
    status_reason,
)

Transport = Literal["httpx", "aiohttp"]
DEFAULT_TRANSPORT: Transport = "aiohttp"
"""Chosen by ``bench/llm_transport.py`` (see BENCHMARKS.md)."""
NO_KEY = "no-key-configured"
"""Sent as the key when none is configured: the SDKs require one, local servers (vLLM,
Ollama) ignore it, and a real API answers 401 (``auth_failed``)."""
_MAX_DETAIL_CHARS = 300

_retry_waits: ContextVar[list[float] | None] = ContextVar("tracer_stream_retry_waits",
                                                          default=None)


@contextmanager
def recording_retries() -> Iterator[list[float]]:
    """Collect the waits of the SDK retries made inside the block (same task)."""
    waits: list[float] = []
    token = _retry_waits.set(waits)
    try:
        yield waits
    finally:
        _retry_waits.reset(token)


@contextmanager
def sdk_call(name: str, secret: str | None, sdk: ModuleType) -> Iterator[list[float]]:
    """One logical call of the SDK ``sdk`` (the ``openai`` or ``anthropic`` module): yields its
    retry waits, raises a :class:`BackendError` for a typed SDK error (see
    :func:`backend_error`) or a success body that is not JSON."""
    with recording_retries() as waits:
        try:
            yield waits
        except sdk.APIError as exc:
            raise backend_error(exc, sdk, name=name, secret=secret,
                                retries=len(waits)) from None
        except ValueError:
            raise bad_response(name, "not JSON", len(waits)) from None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: retry ``n`` (0 for the first) waits a uniform
    draw in ``[0, min(max_s, base_s * 2**n)]``; a server's ``Retry-After`` wins, capped at
    ``max_s``.

    >>> Backoff(0.5, 4.0).wait(0, retry_after_s=9.0)
    4.0
    >>> 0.0 <= Backoff(0.5, 4.0).wait(10) <= 4.0
    True
    """

    base_s: float = 0.5
    max_s: float = 20.0

    def wait(self, retry: int, retry_after_s: float | None = None) -> float:
        if retry_after_s is not None and retry_after_s >= 0:
            seconds = min(retry_after_s, self.max_s)
        else:
            seconds = random.uniform(0.0, min(self.max_s, self.base_s * 2.0 ** min(retry, 60)))
        waits = _retry_waits.get()
        if waits is not None:
            waits.append(seconds)
        return seconds


class BackoffHook:
    """Mixin for ``AsyncOpenAI`` / ``AsyncAnthropic``: their retry waits follow a
    :class:`Backoff` (both SDKs ask ``_calculate_retry_timeout`` how long to wait)."""

    if TYPE_CHECKING:
        max_retries: int

        def _parse_retry_after_header(self, response_headers: httpx2.Headers | None = None
                                      ) -> float | None: ...

        async def close(self) -> None: ...

    def __init__(self, *, backoff: Backoff, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backoff = backoff

    def _calculate_retry_timeout(self, remaining_retries: int, options: Any,
                                 response_headers: httpx2.Headers | None = None) -> float:
        retry = options.get_max_retries(self.max_retries) - remaining_retries
        return self._backoff.wait(retry, self._parse_retry_after_header(response_headers))


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How a backend's SDK client is configured. ``limiter`` is shared by every request."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    max_retries: int = 4
    backoff: Backoff = Backoff()
    max_connections: int = 16
    transport: Transport = DEFAULT_TRANSPORT
    limiter: AsyncLimiter | None = None

    @property
    def key(self) -> str:
        return self.api_key or NO_KEY


def rate_limiter(rate_per_s: float) -> AsyncLimiter | None:
    """One request per ``1 / rate_per_s`` seconds on average (no burst); ``None`` for 0."""
    return AsyncLimiter(1, 1.0 / rate_per_s) if rate_per_s > 0 else None


def http_client(classes: Mapping[Transport, type[httpx2.AsyncClient]],
                settings: ClientSettings) -> httpx2.AsyncClient:
    """The SDK's client class for ``settings.transport`` with our pool and rate limit."""
    limiter = settings.limiter
    hooks: dict[str, list[Any]] = {}
    if limiter is not None:
        async def wait_for_rate_limit(_request: httpx2.Request) -> None:
            await limiter.acquire()
        hooks["request"] = [wait_for_rate_limit]
    size = settings.max_connections
    return classes[settings.transport](
        limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
        timeout=settings.timeout_s, event_hooks=hooks)


ClientT = TypeVar("ClientT", bound=BackoffHook)


def sdk_client(client_class: type[ClientT], http_classes: Mapping[Transport,
               type[httpx2.AsyncClient]], settings: ClientSettings, base_url: str) -> ClientT:
    """An SDK client (a :class:`BackoffHook` subclass of ``AsyncOpenAI`` / ``AsyncAnthropic``)
    with the key, base URL, timeout, retries, backoff and HTTP client of ``settings``."""
    return client_class(backoff=settings.backoff, api_key=settings.key, base_url=base_url,
                        timeout=settings.timeout_s, max_retries=settings.max_retries,
                        http_client=http_client(http_classes, settings))


class SdkBackend(Generic[ClientT]):
    """The set-up both SDK backends share; a backend names its ``provider``, the
    ``request_extra`` key that (set to null) turns structured output off, and builds its
    client in :meth:`make_client`."""

    provider: ClassVar[str]
    structured_option: ClassVar[str]
    sdk: ClassVar[ModuleType]
    """The SDK module (``openai``, ``anthropic``): imported by the backend only, so a worker
    loads the one SDK it uses."""

    def __init__(self, *, model: str, client: ClientSettings | None = None,
                 max_output_tokens: int = 64, extra: Mapping[str, Any] | None = None) -> None:
        settings = client or ClientSettings()
        self.name = f"{self.provider}:{model}"
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.extra = dict(extra or {})
        self.structured = self.extra.get(self.structured_option, True) is not None
        self._secret = settings.api_key
        self.client = self.make_client(settings)

    def make_client(self, settings: ClientSettings) -> ClientT:
        raise NotImplementedError

    def calling(self) -> AbstractContextManager[list[float]]:
        """One logical call: :func:`sdk_call` with this backend's name, key and SDK."""
        return sdk_call(self.name, self._secret, self.sdk)

    async def aclose(self) -> None:
        await self.client.close()


def backend_error(exc: Any, sdk: ModuleType, *, name: str, secret: str | None,
                  retries: int) -> BackendError:
    """A typed error of the SDK ``sdk`` (both SDKs name their error classes alike) as a
    :class:`BackendError` (reason, status, redacted detail)."""
    if isinstance(exc, sdk.APITimeoutError):
        reason, status, detail = TIMEOUT, None, "no answer in time"
    elif isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__
        reason, status = CONNECTION_ERROR, None
        detail = f"cannot connect ({type(cause).__name__ if cause else 'connection error'})"
    elif isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        reason, detail = status_reason(status), f"HTTP {status}: {_provider_message(exc)}"
    else:
        reason, status, detail = BAD_RESPONSE, None, f"unexpected response ({exc.message})"
    tried = f" after {retries} retries" if retries else ""
    return BackendError(redact(f"{name}: {detail}{tried}", secret), reason=reason,
                        retries=retries, status=status)


def bad_response(name: str, problem: str, retries: int) -> BackendError:
    """A success status whose body is not the protocol's response."""
    return BackendError(f"{name}: unexpected response ({problem})", reason=BAD_RESPONSE,
                        retries=retries)


def _provider_message(exc: Any) -> str:
    body = exc.body
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
    text = " ".join(str(message or exc.message).split())
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "…"


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced by ``***``.

    >>> redact("bad key sk-123", "sk-123")
    'bad key ***'
    """
    return text.replace(secret, "***") if secret else text


def token_count(value: Any) -> int:
    """A usage figure from a response; missing or garbled figures count as 0.

    >>> token_count(None), token_count("12"), token_count(-3)
    (0, 12, 0)
    """
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def merge_body(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` updated with ``extra``; a ``None`` value in ``extra`` removes the key.

    >>> merge_body({"a": 1, "b": 2}, {"b": None, "c": 3})
    {'a': 1, 'c': 3}
    """
    merged = {**body, **extra}
    return {k: v for k, v in merged.items() if v is not None}


__all__ = ["DEFAULT_TRANSPORT", "NO_KEY", "Backoff", "BackoffHook", "ClientSettings",
           "SdkBackend", "Transport", "backend_error", "bad_response", "http_client",
           "merge_body", "rate_limiter", "recording_retries", "redact", "sdk_call",
           "sdk_client", "token_count"]
