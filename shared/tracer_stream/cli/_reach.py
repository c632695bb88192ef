"""Reach the broker and Redis from the command line, or fail fast with one line.

A command that needs Kafka or Redis checks it first, within a few seconds, and otherwise raises
an error whose message says what it tried to reach and which setting changes it (``main``
prints it as one ``error:`` line). librdkafka's own log lines go to a silent logger, so a dead
broker does not print hundreds of connection retries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tracer_stream.errors import BusError, ConfigError, RegistryError

if TYPE_CHECKING:
    from tracer_stream.config import KafkaSettings, RedisSettings
    from tracer_stream.registry import Registry

BROKER_TIMEOUT_S = 4.0
"""How long the broker check waits for metadata (the command fails within 10 s)."""

_STACK_HINT = "for the embedded stack: tracer-stream stack up, then source its stack.env"
_SILENT = logging.getLogger("tracer_stream.cli.librdkafka")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False


def quiet_config(conf: dict[str, Any]) -> dict[str, Any]:
    """librdkafka options ``conf`` with its log lines sent to a silent logger."""
    return conf | {"logger": _SILENT}


def require_broker(kafka: KafkaSettings, timeout_s: float = BROKER_TIMEOUT_S) -> None:
    """Raise :class:`BusError` unless a broker of ``kafka.bootstrap_servers`` answers a
    metadata request within ``timeout_s``."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(quiet_config(kafka.common_config()))
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException:
        raise BusError(f"cannot reach the Kafka broker at {kafka.bootstrap_servers} within "
                       f"{timeout_s:g} s; set TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS "
                       f"({_STACK_HINT})") from None


def redis_address(url: str) -> str:
    """``host:port/db`` of a Redis URL, without user name or password.

    >>> redis_address("redis://:secret@cache.internal:6380/2")
    'cache.internal:6380/2'
    >>> redis_address("rediss://127.0.0.1")
    '127.0.0.1:6379/0'
    """
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    return f"{parts.hostname or '?'}:{parts.port or 6379}/{db}"


def open_registry(settings: RedisSettings | None = None) -> Registry:
    """The Redis registry, checked with a PING; :class:`RegistryError` in one line when Redis
    cannot be reached."""
    import redis

    from tracer_stream.config import RedisSettings
    from tracer_stream.registry import Registry

    settings = settings or RedisSettings()
    where = redis_address(settings.url.get_secret_value())
    registry = Registry.from_settings(settings)
    try:
        registry.client.ping()
    except redis.AuthenticationError:
        registry.close()
        raise RegistryError(f"Redis at {where} refused the credentials; set "
                            "TRACER_STREAM_REDIS_PASSWORD (and _USERNAME)") from None
    except redis.RedisError as exc:
        registry.close()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RegistryError(f"cannot reach Redis at {where} ({reason}); set "
                            f"TRACER_STREAM_REDIS_URL ({_STACK_HINT})") from None
    return registry


def require_task(registry: Registry, name: str) -> None:
    """Raise :class:`ConfigError` at once when no task ``name`` is registered."""
    if registry.get_task(name) is None:
        known = ", ".join(t.name for t in registry.list_tasks()) or "none"
        raise ConfigError(f"no task named {name!r} is registered (registered: {known}); "
                          "register it with tracer-stream task apply FILE")
