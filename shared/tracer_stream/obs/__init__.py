"""Observability shared by the services: probe/metrics HTTP endpoints, signals, the Redis
metrics."""

from tracer_stream.obs.http import Heartbeat, ServiceHTTP
from tracer_stream.obs.redis_metrics import RedisHealth, RedisObserver
from tracer_stream.obs.signals import StopFlag

__all__ = ["Heartbeat", "RedisHealth", "RedisObserver", "ServiceHTTP", "StopFlag"]
