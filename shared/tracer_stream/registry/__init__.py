"""The Redis-backed registry of tasks, model versions and gate state."""

from tracer_stream.registry.store import FencedOut, Registry

__all__ = ["FencedOut", "Registry"]
