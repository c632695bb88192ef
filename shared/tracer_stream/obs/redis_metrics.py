"""The Redis metrics every service exports, under its own namespace:
``{namespace}_redis_errors_total{operation}`` counts the Redis calls that failed (a timeout, a
refused or dropped connection, an error reply) and ``{namespace}_redis_up`` is 1 while the
latest call succeeded, 0 after a failure. The code that calls Redis reports each outcome with
``observe(operation, ok)``; docs/infrastructure.md lists the operations of each service.
The namespaces are ``tracer_stream_router``, ``tracer_stream_worker`` and
``tracer_stream_trainer`` (``tracer_stream_router_redis_up`` is what the Helm chart's alert on an
unreachable Redis watches).

>>> from prometheus_client import CollectorRegistry
>>> registry = CollectorRegistry()
>>> health = RedisHealth("demo", registry)
>>> health.observe("outcome_mark", False)
>>> registry.get_sample_value("demo_redis_errors_total", {"operation": "outcome_mark"})
1.0
>>> registry.get_sample_value("demo_redis_up"), health.observe("outcome_mark", True)
(0.0, None)
>>> registry.get_sample_value("demo_redis_up")
1.0
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

RedisObserver = Callable[[str, bool], None]
"""``observe(operation, ok)``: told the outcome of every Redis call."""


def ignore(operation: str, ok: bool) -> None:
    """The observer of code run without metrics (tools, tests)."""


class RedisHealth:
    """``redis_errors_total{operation}`` and ``redis_up`` of one service."""

    def __init__(self, namespace: str, registry: CollectorRegistry) -> None:
        self.errors = Counter(f"{namespace}_redis_errors",
                              "Redis calls that failed (timeout, connection, error reply), by "
                              "operation", ["operation"], registry=registry)
        self.up = Gauge(f"{namespace}_redis_up",
                        "1 while the latest Redis call succeeded, 0 after a failure",
                        registry=registry)
        self.up.set(1)

    def observe(self, operation: str, ok: bool) -> None:
        """Count a failed call of ``operation``; set ``redis_up``."""
        if not ok:
            self.errors.labels(operation).inc()
        self.up.set(1 if ok else 0)


__all__ = ["RedisHealth", "RedisObserver", "ignore"]
