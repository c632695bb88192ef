"""The typed records the registry keeps in Redis for the services to share.

Each is a ``TypedDict``: the record is stored as JSON (or a Redis hash) exactly as typed here,
so what the trainer writes and what a router or the CLI reads is checked by mypy on both sides.
A record that grows a field adds it here first.

>>> gate: GateRecord = {"open": False, "reason": "live monitor alarm", "since": 1.0}
>>> gate["open"]
False
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class GateRecord(TypedDict):
    """A task's gate: closed means every request of the task goes to the LLM."""

    open: bool
    reason: str
    since: float | None
    """Unix time of the last change (None: never set, open by default)."""


class AuditBoostRecord(TypedDict):
    """A temporary raise of a task's audit rate (routers draw with max(ρ, rate))."""

    rate: float
    reason: str
    since: float
    expires_at: float


class AlarmRecord(TypedDict):
    """An alarm another service raised on a task's version, for the trainer to act on;
    ``fields`` a detector adds (its statistic, counts) are stored beside these."""

    id: str
    task: str
    version: str
    source: str
    detector: str
    detail: str
    at: float
    scored: NotRequired[int]
    """Novelty watch: requests scored since the version was deployed."""
    novel: NotRequired[int]
    """Novelty watch: of them, deferred as ``novel_input``."""
    bound: NotRequired[float]
    """Novelty watch: the rate the test bounded."""


class HistoryEvent(TypedDict):
    """One line of a task's history (promotions, rollbacks, gate changes, refits, alarms);
    the action's own fields (``version``, ``rate``, ``ttl_s``, ...) are stored beside these."""

    action: str
    reason: str
    at: float
    version: NotRequired[str | None]
    previous: NotRequired[str | None]
    """Promotions and rollbacks: the version that was current before."""
    traces_needed: NotRequired[int | None]
    """Rejected refits: the calibration traces the gate expects to need (None: more of the
    same kind would not help)."""

__all__ = ["AlarmRecord", "AuditBoostRecord", "GateRecord", "HistoryEvent"]
