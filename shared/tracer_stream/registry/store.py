"""The Redis registry: task definitions, versioned model blobs with an alias ``current``, the
promotion history, and each task's gate state.

Key layout (``P`` is the configured key prefix, default ``tracer:``)::

    P tasks                          set of task names
    P task:{task}                    task definition (JSON)
    P task-versions                  hash: task name -> number of times it was applied
    P task-changes                   pub/sub channel: the name of every task applied
                                     (:class:`~tracer_stream.registry.watch.TaskWatch`)
    P model:{task}:seq               version counter (versions are v1, v2, ...)
    P model:{task}:versions          list of versions, oldest first
    P model:{task}:blob:{version}    signed artefact bytes (authenticated by the learning core)
    P model:{task}:manifest:{version}  the artefact manifest (JSON), readable without the blob
    P model:{task}:current           the version routers serve
    P model:{task}:history           promotion/rollback/gate/trainer events (JSON), newest first
    P model:{task}:report:{version}  the version's report (JSON), written by the trainer
    P gate:{task}                    hash: open (0/1), reason, since
    P audit-boost:{task}             temporary audit rate after an alarm (JSON: rate, reason,
                                     since, expires_at), expires with a Redis TTL
    P alarms:{task}                  hash: alarms raised outside the trainer (a router's
                                     novelty watch) for the trainer to act on; field
                                     ``{version}:{source}:{detector}``, value JSON
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
import redis

from tracer_stream.config import RedisSettings
from tracer_stream.contracts.records import AlarmRecord, AuditBoostRecord, GateRecord, HistoryEvent
from tracer_stream.errors import RegistryError
from tracer_stream.tasks import Task


class FencedOut(RegistryError):
    """A write guarded by a fencing token lost: a newer token holder exists."""


class Registry:
    """Tasks, models and gate state of one deployment, stored in Redis."""

    def __init__(self, client: redis.Redis, prefix: str = "tracer:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> Registry:
        return cls(settings.client(), settings.key_prefix)

    def close(self) -> None:
        self.client.close()

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # tasks -------------------------------------------------------------------------------
    def put_task(self, task: Task) -> None:
        """Store ``task`` and tell every service (pub/sub, plus the version counter that
        :meth:`task_versions` polls when a message was missed)."""
        pipe = self.client.pipeline()
        pipe.set(self._k("task", task.name), task.to_json())
        pipe.sadd(self._k("tasks"), task.name)
        pipe.hincrby(self._k("task-versions"), task.name, 1)
        pipe.publish(self.task_channel, task.name)
        pipe.execute()

    @property
    def task_channel(self) -> str:
        """The pub/sub channel :meth:`put_task` announces task names on."""
        return self._k("task-changes")

    def task_versions(self) -> dict[str, int]:
        """How many times each task was applied (one cheap read)."""
        raw = self.client.hgetall(self._k("task-versions"))
        return {_text(k): int(v) for k, v in raw.items()}

    def delete_task(self, name: str) -> bool:
        """Forget a task's definition (its model versions and history stay, for the record);
        requests naming it are dead-lettered as ``unknown_task`` from then on."""
        pipe = self.client.pipeline()
        pipe.delete(self._k("task", name))
        pipe.srem(self._k("tasks"), name)
        pipe.hincrby(self._k("task-versions"), name, 1)
        pipe.publish(self.task_channel, name)
        deleted, *_ = pipe.execute()
        return bool(deleted)

    def get_task(self, name: str) -> Task | None:
        raw = self.client.get(self._k("task", name))
        return None if raw is None else Task.from_json(raw)

    def list_tasks(self) -> list[Task]:
        names = sorted(_text(n) for n in self.client.smembers(self._k("tasks")))
        return [t for t in (self.get_task(n) for n in names) if t is not None]

    # models ------------------------------------------------------------------------------
    def add_version(self, task: str, blob: bytes, manifest: dict[str, Any]) -> str:
        """Store a new model version (not yet current) and return its name."""
        version = f"v{self.client.incr(self._k('model', task, 'seq'))}"
        manifest = {**manifest, "version": version, "task": task}
        pipe = self.client.pipeline()
        pipe.set(self._k("model", task, "blob", version), blob)
        pipe.set(self._k("model", task, "manifest", version),
                 orjson.dumps(manifest, option=orjson.OPT_SERIALIZE_NUMPY))
        pipe.rpush(self._k("model", task, "versions"), version)
        pipe.execute()
        return version

    def versions(self, task: str) -> list[str]:
        return [_text(v) for v in self.client.lrange(self._k("model", task, "versions"), 0, -1)]

    def manifest(self, task: str, version: str) -> dict[str, Any]:
        raw = self.client.get(self._k("model", task, "manifest", version))
        if raw is None:
            raise RegistryError("no such model version", task=task, version=version)
        return orjson.loads(raw)

    def blob(self, task: str, version: str) -> bytes:
        raw = self.client.get(self._k("model", task, "blob", version))
        if raw is None:
            raise RegistryError("no such model version", task=task, version=version)
        return raw if isinstance(raw, bytes) else raw.encode()

    def current(self, task: str) -> str | None:
        raw = self.client.get(self._k("model", task, "current"))
        return None if raw is None else _text(raw)

    def set_current(self, task: str, version: str, *, action: str = "promote",
                    reason: str = "", fence: tuple[str, int] | None = None) -> None:
        """Point ``current`` at ``version`` and record the event in the history. With
        ``fence = (key, value)`` only while the integer at ``key`` still equals ``value``,
        checked in the same transaction (WATCH/MULTI); otherwise :class:`FencedOut`."""
        if version not in self.versions(task):
            raise RegistryError("cannot make an unknown version current", task=task,
                                version=version)
        previous = self.current(task)
        with self.client.pipeline() as pipe:
            if fence is not None:
                pipe.watch(fence[0])
                if int(pipe.get(fence[0]) or 0) != fence[1]:
                    raise FencedOut("a newer trainer generation runs", task=task,
                                    version=version, generation=fence[1])
                pipe.multi()
            pipe.set(self._k("model", task, "current"), version)
            pipe.lpush(self._k("model", task, "history"), orjson.dumps({
                "action": action, "version": version, "previous": previous, "reason": reason,
                "at": time.time(),
            }))
            try:
                pipe.execute()
            except redis.WatchError:
                raise FencedOut("a newer trainer generation started meanwhile", task=task,
                                version=version, generation=fence[1] if fence else None
                                ) from None

    def record_event(self, task: str, action: str, *, reason: str = "", **fields: Any) -> None:
        """Add an event that changes no state (a failed refit, a drift alarm) to the history."""
        self.client.lpush(self._k("model", task, "history"), orjson.dumps({
            **fields, "action": action, "reason": reason, "at": time.time()}))

    def put_report(self, task: str, version: str, report: dict[str, Any]) -> None:
        self.client.set(self._k("model", task, "report", version),
                        orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY))

    def report(self, task: str, version: str) -> dict[str, Any] | None:
        raw = self.client.get(self._k("model", task, "report", version))
        return None if raw is None else orjson.loads(raw)

    def history(self, task: str, limit: int = 50) -> list[HistoryEvent]:
        raw = self.client.lrange(self._k("model", task, "history"), 0, limit - 1)
        return [orjson.loads(r) for r in raw]

    # gate state --------------------------------------------------------------------------
    def set_gate(self, task: str, *, open_: bool, reason: str) -> None:
        """Open or close a task's gate (closed: routers defer every request of the task)."""
        pipe = self.client.pipeline()
        pipe.hset(self._k("gate", task), mapping={
            "open": int(open_), "reason": reason, "since": time.time()})
        pipe.lpush(self._k("model", task, "history"), orjson.dumps({
            "action": "open_gate" if open_ else "close_gate", "version": self.current(task),
            "reason": reason, "at": time.time()}))
        pipe.execute()

    def gate(self, task: str) -> GateRecord:
        """The task's gate; open by default."""
        raw = self.client.hgetall(self._k("gate", task))
        if not raw:
            return {"open": True, "reason": "", "since": None}
        return {"open": raw[b"open"] == b"1", "reason": _text(raw[b"reason"]),
                "since": float(raw[b"since"])}

    # audit boost -------------------------------------------------------------------------
    def set_audit_boost(self, task: str, rate: float, *, ttl_s: float, reason: str) -> None:
        """Raise the task's audit rate to at least ``rate`` for ``ttl_s`` seconds (routers draw
        with max(ρ, rate)); replaces a boost in place."""
        now = time.time()
        pipe = self.client.pipeline()
        pipe.set(self._k("audit-boost", task), orjson.dumps({
            "rate": rate, "reason": reason, "since": now, "expires_at": now + ttl_s}),
            ex=max(1, math.ceil(ttl_s)))
        pipe.lpush(self._k("model", task, "history"), orjson.dumps({
            "action": "audit_boost", "version": self.current(task), "rate": rate,
            "ttl_s": ttl_s, "reason": reason, "at": now}))
        pipe.execute()

    def audit_boost(self, task: str, now: float | None = None) -> AuditBoostRecord | None:
        """The task's boost, or None (never set, cleared, or expired at ``now``)."""
        raw = self.client.get(self._k("audit-boost", task))
        if raw is None:
            return None
        boost: AuditBoostRecord = orjson.loads(raw)
        return boost if boost["expires_at"] > (time.time() if now is None else now) else None

    def clear_audit_boost(self, task: str, reason: str) -> bool:
        """End the task's boost; True (and a history event) if one was set."""
        if not self.client.delete(self._k("audit-boost", task)):
            return False
        self.record_event(task, "audit_boost_cleared", reason=reason)
        return True

    # alarms raised by other services -----------------------------------------------------
    def raise_alarm(self, task: str, version: str, *, source: str, detector: str,
                    detail: str = "", **fields: Any) -> bool:
        """Record an alarm on ``task``'s ``version`` for the trainer to act on. Idempotent:
        while one with the same version, source and detector is pending (several routers
        raising it), the first stays and this returns False."""
        alarm_id = f"{version}:{source}:{detector}"
        return bool(self.client.hsetnx(self._k("alarms", task), alarm_id, orjson.dumps({
            **fields, "id": alarm_id, "task": task, "version": version, "source": source,
            "detector": detector, "detail": detail, "at": time.time()})))

    def alarms(self, task: str) -> list[AlarmRecord]:
        """The task's pending alarms, oldest first."""
        raw = self.client.hgetall(self._k("alarms", task))
        return sorted((orjson.loads(v) for v in raw.values()), key=lambda a: a["at"])

    def clear_alarm(self, task: str, alarm_id: str) -> bool:
        """Remove a pending alarm (the trainer handled or discarded it)."""
        return bool(self.client.hdel(self._k("alarms", task), alarm_id))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
