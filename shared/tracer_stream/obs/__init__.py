"""Observability shared by the services: probe/metrics HTTP endpoints and signals."""

from tracer_stream.obs.http import Heartbeat, ServiceHTTP
from tracer_stream.obs.signals import StopFlag

__all__ = ["Heartbeat", "ServiceHTTP", "StopFlag"]
