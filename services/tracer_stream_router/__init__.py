"""The router service: thin wiring of :mod:`tracer_stream.routing` to Kafka, Redis and HTTP."""

from tracer_stream_router.app import RouterService, main

__all__ = ["RouterService", "main"]
