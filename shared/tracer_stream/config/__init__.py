"""Typed settings read from ``TRACER_STREAM_*`` environment variables."""

from tracer_stream.config.settings import (
    KafkaSettings,
    LimitsSettings,
    RedisSettings,
    RouterSettings,
    TopicSettings,
    TrainerSettings,
    WorkerSettings,
    masked_dump,
)

__all__ = [
    "KafkaSettings",
    "LimitsSettings",
    "RedisSettings",
    "RouterSettings",
    "TopicSettings",
    "TrainerSettings",
    "WorkerSettings",
    "masked_dump",
]
