"""The project's error hierarchy. Every error tracer-stream raises on purpose derives from
:class:`TracerStreamError`, so callers can catch one root::

    TracerStreamError
    ├── ConfigError          settings or files a user supplied are wrong
    ├── ContractError        a topic message does not match its JSON Schema
    │   └── MessageTooLarge  a message or its text is over the configured size
    ├── StackError           the embedded broker/Redis could not be started or stopped
    ├── BusError             Kafka produce/consume/admin failed
    ├── RegistryError        the Redis task/model registry failed
    │   └── ArtefactAuthError  a model blob's signature did not verify (never loaded)
    ├── EmbedderError        an embedder failed or does not match a model's embedder
    ├── LearnError           fitting or routing with the learning core failed
    └── LLMError             the teacher LLM could not produce a valid label

Errors carry the context a user needs to find the problem (task, request id, topic, offset,
field) in their attributes and in their message.
"""

from __future__ import annotations

from typing import Any


class TracerStreamError(Exception):
    """Root of every error tracer-stream raises on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        self.context = {k: v for k, v in context.items() if v is not None}
        suffix = ", ".join(f"{k}={v!r}" for k, v in self.context.items())
        super().__init__(f"{message} ({suffix})" if suffix else message)
        self.message = message


class ConfigError(TracerStreamError):
    """A setting, task file or input file is invalid."""


class ContractError(TracerStreamError):
    """A topic message violates its contract. ``field`` names the offending field when known
    and ``reason`` is a short machine-readable code (``malformed_json``, ``schema_violation``,
    ``too_large``)."""

    def __init__(
        self, message: str, *, reason: str = "schema_violation", field: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, field=field, **context)
        self.reason = reason
        self.field = field


class MessageTooLarge(ContractError):
    """A raw message or its text is larger than allowed."""

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(message, reason="too_large", field=field, **context)


class StackError(TracerStreamError):
    """The embedded stack could not be started, inspected or stopped."""


class BusError(TracerStreamError):
    """A Kafka operation failed."""


class RegistryError(TracerStreamError):
    """The Redis-backed task or model registry failed."""


class ArtefactAuthError(RegistryError):
    """A model artefact's signature did not verify; the blob was not deserialised."""


class EmbedderError(TracerStreamError):
    """An embedder failed, or embeddings come from a different embedder than expected."""


class LearnError(TracerStreamError):
    """The learning core could not fit or route."""


class LLMError(TracerStreamError):
    """The teacher could not produce a valid label (``reason`` says why)."""

    def __init__(self, message: str, *, reason: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.reason = reason
