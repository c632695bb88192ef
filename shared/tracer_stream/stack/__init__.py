"""The embedded broker + Redis used by the demo and the integration tests."""

from tracer_stream.stack.embedded import EmbeddedStack, StackStatus
from tracer_stream.stack.ports import free_port

__all__ = ["EmbeddedStack", "StackStatus", "free_port"]
