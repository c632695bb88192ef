"""Typed settings read from ``TRACER_STREAM_*`` environment variables, and the masking of
the secrets they hold (:mod:`tracer_stream.config.secrets`)."""

from tracer_stream.config.secrets import mask_secrets, redact_known
from tracer_stream.config.settings import (
    KafkaSettings,
    LimitsSettings,
    RedisSettings,
    RouterSettings,
    TopicSettings,
    TrainerSettings,
    WorkerSettings,
    masked_dump,
    redact_environment_secrets,
)

__all__ = [
    "KafkaSettings",
    "LimitsSettings",
    "RedisSettings",
    "RouterSettings",
    "TopicSettings",
    "TrainerSettings",
    "WorkerSettings",
    "mask_secrets",
    "masked_dump",
    "redact_environment_secrets",
    "redact_known",
]
