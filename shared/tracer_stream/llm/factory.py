"""Build the configured teacher from :class:`~tracer_stream.config.WorkerSettings`. The SDK
backends are imported when chosen: a worker loads only the SDK it uses (the ``anthropic``
package alone takes seconds to import on a busy machine)."""

from __future__ import annotations

from tracer_stream.config import WorkerSettings
from tracer_stream.errors import ConfigError
from tracer_stream.llm.replay import ReplayBackend, load_replay_file
from tracer_stream.llm.sdk import (
    DEFAULT_TRANSPORT,
    Backoff,
    ClientSettings,
    Transport,
    rate_limiter,
)
from tracer_stream.llm.teacher import Teacher
from tracer_stream.llm.types import Backend, Pricing


def client_settings(settings: WorkerSettings,
                    transport: Transport = DEFAULT_TRANSPORT) -> ClientSettings:
    """The SDK client configuration: URL, key, timeout, retries, backoff, pool size
    (``max_concurrency``, the worker's bound on calls in flight) and rate limit."""
    return ClientSettings(
        base_url=settings.base_url,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout_s=settings.timeout_s, max_retries=settings.max_retries,
        backoff=Backoff(settings.backoff_base_s, settings.backoff_max_s),
        max_connections=settings.max_concurrency, transport=transport,
        limiter=rate_limiter(settings.rate_limit_per_s))


def build_backend(settings: WorkerSettings,
                  transport: Transport = DEFAULT_TRANSPORT) -> Backend:
    """The backend named by ``settings.backend``."""
    client = client_settings(settings, transport)
    if settings.backend == "replay":
        if settings.replay_file is None:
            raise ConfigError("the replay backend needs TRACER_STREAM_WORKER_REPLAY_FILE")
        return ReplayBackend(load_replay_file(settings.replay_file),
                             source=settings.replay_file.name,
                             latency_ms=settings.replay_latency_ms,
                             error_rate=settings.replay_error_rate, seed=settings.replay_seed,
                             max_retries=client.max_retries, backoff=client.backoff,
                             limiter=client.limiter)
    if settings.backend == "anthropic":
        from tracer_stream.llm.anthropic import AnthropicBackend

        return AnthropicBackend(model=settings.model, client=client,
                                max_output_tokens=settings.max_output_tokens,
                                extra=settings.request_extra)
    from tracer_stream.llm.openai import OpenAIBackend

    return OpenAIBackend(model=settings.model, client=client,
                         max_output_tokens=settings.max_output_tokens,
                         extra=settings.request_extra)


def build_teacher(settings: WorkerSettings,
                  transport: Transport = DEFAULT_TRANSPORT) -> Teacher:
    """The configured backend with the configured pricing."""
    return Teacher(build_backend(settings, transport),
                   pricing=Pricing(settings.price_per_call_usd,
                                   settings.price_per_1k_input_tokens_usd,
                                   settings.price_per_1k_output_tokens_usd))


__all__ = ["build_backend", "build_teacher", "client_settings"]
