"""Building a :class:`TaskState` from the registry: task, current version, gate, model.

Redis errors propagate (the caller decides to keep what it knew); everything wrong with the
model itself becomes a :class:`TaskState` without a model and with the reason: a signature no
trusted key verifies (``model_invalid``), a binding to another task (``model_binding_mismatch``)
or to an earlier definition of this task (``task_changed``, see
:mod:`tracer_stream.tasks.binding`), no certificate at the task's α, another embedder.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

import redis

from tracer_stream.contracts.reasons import DeferReason
from tracer_stream.embed.fingerprint import MANIFEST_KEY as NUMERICS_KEY
from tracer_stream.embed.fingerprint import numerics_mismatch
from tracer_stream.errors import ArtefactAuthError, EmbedderError, RegistryError
from tracer_stream.registry import Registry
from tracer_stream.routing.embedders import EmbedderPool
from tracer_stream.routing.state import ServedModel, TaskState
from tracer_stream.signing import VerifyKeys
from tracer_stream.tasks.binding import mismatch

log = logging.getLogger(__name__)

ArtefactLoader = Callable[[bytes, VerifyKeys], ServedModel]

RETRY_BASE_S = 2.0
RETRY_MAX_S = 300.0
_RETRYABLE = frozenset({DeferReason.MODEL_INVALID, DeferReason.EMBEDDER_ERROR})
"""Load failures worth trying again (a blob or an embedder that may be fixed or come back)."""


def retry_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failed loads in a row.

    >>> [retry_delay(n) for n in (1, 2, 3, 10)]
    [2.0, 4.0, 8.0, 300.0]
    """
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (failures - 1))


def load_artefact(blob: bytes, verify_keys: VerifyKeys) -> ServedModel:
    """Authenticate and load a model blob with the learning core."""
    from tracer_stream.learn import Artefact

    artefact: ServedModel = Artefact.from_bytes(blob, verify_keys)
    return artefact


def certified_at(model: ServedModel, alpha: float) -> bool | None:
    """Whether the model's frontier certifies ``alpha`` (``None``: α is not on it). Models
    without a frontier in their manifest answer with their own certificate."""
    frontier = model.manifest.get("frontier")
    if not frontier:
        return model.certified
    for policy in frontier:
        if math.isclose(float(policy["alpha"]), alpha, abs_tol=1e-9):
            return bool(policy["certified"])
    return None


class StateLoader:
    """Reads one task's state from the registry, reusing an already loaded model version."""

    def __init__(self, registry: Registry, verify_keys: VerifyKeys, embedders: EmbedderPool, *,
                 artefact_loader: ArtefactLoader = load_artefact,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self._keys = verify_keys
        self._embedders = embedders
        self._load_artefact = artefact_loader
        self._clock = clock

    def task_names(self) -> list[str]:
        """Every registered task (none when a definition is unreadable: tasks already known
        are still refreshed one by one)."""
        try:
            return [t.name for t in self.registry.list_tasks()]
        except redis.RedisError:
            raise
        except Exception as exc:
            log.error("cannot list the registered tasks: %s", exc)
            return []

    def load(self, name: str, previous: TaskState | None = None) -> TaskState | None:
        """The task's state now, or ``None`` if the task is not registered (or its stored
        definition is unreadable, which is logged)."""
        try:
            task = self.registry.get_task(name)
        except redis.RedisError:
            raise
        except Exception as exc:
            log.error("task %s has an unreadable definition: %s", name, exc)
            return None
        if task is None:
            return None
        version = self.registry.current(name)
        gate = self.registry.gate(name)
        boost = self.registry.audit_boost(name)
        rate = float(boost["rate"]) if boost is not None else 0.0
        failures = 0
        if previous is not None and previous.version == version and previous.task == task:
            if previous.load_failures == 0 or self._clock() < previous.retry_at:
                return previous.with_registry(gate["open"], gate["reason"], rate)
            failures = previous.load_failures  # a failed load is due for another try
        state = TaskState(task=task, version=version, gate_open=gate["open"],
                          gate_reason=gate["reason"], audit_boost=rate)
        if version is None:
            return _without(state, DeferReason.NO_MODEL)
        if previous is not None and previous.version == version and previous.model is not None:
            return self._with_model(state, previous.model)  # the task changed, the model not
        try:
            blob = self.registry.blob(name, version)
        except RegistryError as exc:  # current points at a version without a blob
            log.error("task %s: %s", name, exc)
            return _without(state, DeferReason.MODEL_INVALID)
        loaded = self._loaded(state, blob)
        if loaded.model is None and loaded.unavailable in _RETRYABLE:
            failures += 1
            delay = retry_delay(failures)
            log.warning("task %s version %s: load failure %d, next try in %.0f s", name,
                        version, failures, delay)
            return replace(loaded, load_failures=failures, retry_at=self._clock() + delay)
        return loaded

    def _loaded(self, state: TaskState, blob: bytes) -> TaskState:
        where = f"task {state.name} version {state.version}"
        try:
            model = self._load_artefact(blob, self._keys)
        except ArtefactAuthError as exc:
            log.error("%s refused: %s", where, exc)
            return _without(state, DeferReason.MODEL_INVALID)
        except Exception as exc:  # a broken blob must not stop the router
            log.error("%s cannot be loaded: %s", where, exc)
            return _without(state, DeferReason.MODEL_INVALID)
        return self._with_model(state, model)

    def _with_model(self, state: TaskState, model: ServedModel) -> TaskState:
        """``state`` served by ``model`` if it may serve the task as registered now."""
        where = f"task {state.name} version {state.version}"
        refused = mismatch(model.manifest.get("binding"), state.task, model.labels)
        if refused is not None:
            log.error("%s refused (%s): %s; deferring its traffic until a model certified "
                      "for the task as registered now is current", where, *refused)
            return _without(state, refused[0])
        certified = certified_at(model, state.task.alpha)
        if not certified:
            log.error("%s is not certified at the task's alpha %s; deferring its traffic",
                      where, state.task.alpha)
            return _without(state, DeferReason.UNCERTIFIED if certified is not None
                            else DeferReason.ALPHA_NOT_ON_FRONTIER)
        embedder = self._embedders.get(state.task.embedder)
        if embedder is None:
            return _without(state, DeferReason.EMBEDDER_ERROR)
        try:
            model.check_embedder(embedder.identity)
        except EmbedderError as exc:
            log.error("%s: %s", where, exc)
            return _without(state, DeferReason.EMBEDDER_MISMATCH)
        moved = numerics_mismatch(embedder, model.manifest.get(NUMERICS_KEY))
        if moved is not None:
            log.error("%s: embedder %s: %s", where, embedder.identity.id, moved)
            return _without(state, DeferReason.EMBEDDER_MISMATCH)
        log.info("%s loaded (gate %s)", where, "open" if state.gate_open else "closed")
        return replace(state, model=model)


def _without(state: TaskState, reason: str) -> TaskState:
    return replace(state, unavailable=reason)
