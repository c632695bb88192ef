"""Build the configured teacher from :class:`~tracer_stream.config.WorkerSettings`."""

from __future__ import annotations

import httpx

from tracer_stream.config import WorkerSettings
from tracer_stream.errors import ConfigError
from tracer_stream.llm.anthropic import AnthropicBackend
from tracer_stream.llm.openai import OpenAIBackend
from tracer_stream.llm.ratelimit import TokenBucket
from tracer_stream.llm.replay import ReplayBackend
from tracer_stream.llm.retry import RetryPolicy
from tracer_stream.llm.teacher import Teacher
from tracer_stream.llm.types import Backend, Pricing


def build_backend(settings: WorkerSettings,
                  transport: httpx.AsyncBaseTransport | None = None) -> Backend:
    """The backend named by ``settings.backend``."""
    if settings.backend == "replay":
        if settings.replay_file is None:
            raise ConfigError("the replay backend needs TRACER_STREAM_WORKER_REPLAY_FILE")
        return ReplayBackend.from_file(settings.replay_file,
                                       latency_ms=settings.replay_latency_ms,
                                       error_rate=settings.replay_error_rate,
                                       seed=settings.replay_seed)
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    cls = AnthropicBackend if settings.backend == "anthropic" else OpenAIBackend
    return cls(model=settings.model, base_url=settings.base_url, api_key=api_key,
               timeout_s=settings.timeout_s, max_output_tokens=settings.max_output_tokens,
               extra=settings.request_extra, max_connections=settings.max_concurrency,
               transport=transport)


def build_teacher(settings: WorkerSettings,
                  transport: httpx.AsyncBaseTransport | None = None) -> Teacher:
    """Backend + retries + rate limit + concurrency bound + pricing, as configured."""
    limiter = TokenBucket(settings.rate_limit_per_s) if settings.rate_limit_per_s > 0 else None
    return Teacher(
        build_backend(settings, transport),
        policy=RetryPolicy(settings.max_retries, settings.backoff_base_s,
                           settings.backoff_max_s),
        pricing=Pricing(settings.price_per_call_usd, settings.price_per_1k_input_tokens_usd,
                        settings.price_per_1k_output_tokens_usd),
        max_concurrency=settings.max_concurrency,
        limiter=limiter,
    )


__all__ = ["build_backend", "build_teacher"]
