"""The Redis-backed registry of tasks, model versions and gate state."""

from tracer_stream.registry.store import Registry

__all__ = ["Registry"]
