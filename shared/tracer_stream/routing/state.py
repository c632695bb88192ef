"""What the router knows about each task, and the holder that swaps it atomically.

A :class:`TaskState` is immutable: the task definition, the surrogate serving it (if any), its
version and the gate state. The :class:`ModelHolder` keeps one mapping ``task → TaskState`` and
replaces it whole, so a batch that took a :meth:`ModelHolder.snapshot` routes every request with
the same models even while a new version is being swapped in.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from tracer_stream.tasks import Task


class RouteOutcome(Protocol):
    """Per-item result of the learning core (``tracer_stream.learn.RouteResult``)."""

    @property
    def labels(self) -> Sequence[str]: ...

    @property
    def scores(self) -> np.ndarray: ...

    @property
    def accepted(self) -> np.ndarray: ...

    @property
    def reasons(self) -> Sequence[str | None]: ...


class ServedModel(Protocol):
    """What the router needs of a model artefact (``tracer_stream.learn.Artefact``)."""

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    @property
    def certified(self) -> bool: ...

    @property
    def labels(self) -> Sequence[str]: ...

    def route(self, X: np.ndarray, alpha: float | None = None) -> RouteOutcome: ...

    def check_embedder(self, ref: Any) -> None: ...


@dataclass(frozen=True)
class TaskState:
    """One task as the router serves it.

    ``model`` is ``None`` when the surrogate cannot answer; ``unavailable`` then says why
    (a :class:`~tracer_stream.contracts.reasons.DeferReason`). ``gate_open`` is the registry's
    gate; ``audit_boost`` the temporary audit rate the trainer set after an alarm (0 when
    none). ``load_failures`` counts failed loads of this version in a row, and ``retry_at``
    (monotonic seconds) says when the next try is due.
    """

    task: Task
    version: str | None = None
    model: ServedModel | None = None
    unavailable: str | None = None
    gate_open: bool = True
    gate_reason: str = ""
    audit_boost: float = 0.0
    load_failures: int = 0
    retry_at: float = 0.0

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def audit_rate(self) -> float:
        """The probability of the audit draw: max(the task's ρ, the boost)."""
        return max(self.task.audit_rate, self.audit_boost)

    def with_gate(self, open_: bool, reason: str = "") -> TaskState:
        return replace(self, gate_open=open_, gate_reason=reason)

    def with_registry(self, open_: bool, reason: str, audit_boost: float) -> TaskState:
        """The same model with the registry's current gate and audit boost."""
        return replace(self, gate_open=open_, gate_reason=reason, audit_boost=audit_boost)


class ModelHolder:
    """The current ``task → TaskState`` mapping; replaced whole, read without locks."""

    def __init__(self) -> None:
        self._states: Mapping[str, TaskState] = MappingProxyType({})
        self._lock = threading.Lock()
        self.loaded = False
        """True once a first full load from the registry was attempted."""

    def snapshot(self) -> Mapping[str, TaskState]:
        """The mapping to route one batch with (never changes under the caller)."""
        return self._states

    def replace_all(self, states: Mapping[str, TaskState]) -> None:
        with self._lock:
            self._states = MappingProxyType(dict(states))
            self.loaded = True

    def put(self, state: TaskState) -> None:
        """Add or replace one task's state."""
        with self._lock:
            self._states = MappingProxyType({**self._states, state.name: state})
