"""The Redis-backed registry of tasks, model versions and gate state, and the feed that tells
services when a task was applied."""

from tracer_stream.registry.store import FencedOut, Registry
from tracer_stream.registry.watch import TaskWatch

__all__ = ["FencedOut", "Registry", "TaskWatch"]
