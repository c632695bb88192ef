"""Day-boundary refits: ask the running trainer to refit the task (the mechanism behind
``tracer-stream trainer refit TASK``), wait for its outcome, then wait until the router serves
the version that came out of it. Also reads a version's certificate from the registry."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from tracer_stream.contracts.records import HistoryEvent
from tracer_stream.demo.deployment import DemoError, Deployment
from tracer_stream.errors import TracerStreamError
from tracer_stream.training.state import TrainerState

__all__ = [
    "Certificate",
    "RefitResult",
    "certificate",
    "refit",
    "registry_events",
    "served_certificates",
    "wait_router_serves",
    "wait_trainer_stored",
]


@dataclass(frozen=True)
class Certificate:
    """What the gate certified for one version, on its calibration traces."""

    version: str
    alpha: float
    delta: float
    family: str
    calibration_coverage: float
    calibration_agreement: float
    n_traces: int
    n_calibration: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RefitResult:
    """One refit asked for at the end of ``after_day``."""

    after_day: int
    outcome: str
    reason: str
    current: str | None
    seconds: float
    certificate: Certificate | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["certificate"] = None if self.certificate is None else self.certificate.to_dict()
        return out


def certificate(deployment: Deployment, task: str, version: str | None) -> Certificate | None:
    """The certificate of ``version`` from its manifest (``None`` without a version)."""
    if version is None:
        return None
    m = deployment.registry.manifest(task, version)
    return Certificate(version=version, alpha=float(m.get("alpha", 0.0)),
                       delta=float(m.get("delta", 0.0)), family=str(m.get("family", "?")),
                       calibration_coverage=float(m.get("coverage") or 0.0),
                       calibration_agreement=float(m.get("agreement") or 0.0),
                       n_traces=int(m.get("n_traces", 0)), n_calibration=int(m.get("n_cal", 0)))


def served_certificates(deployment: Deployment, task: str,
                        versions: set[str]) -> dict[str, Certificate]:
    """Certificates of ``versions`` (those that answered requests); versions that cannot be read
    any more (Redis gone after a failure) are left out."""
    certs = {}
    for version in sorted(versions):
        try:
            cert = certificate(deployment, task, version)
        except (redis.RedisError, TracerStreamError):
            continue
        if cert is not None:
            certs[version] = cert
    return certs


def registry_events(deployment: Deployment, task: str) -> list[HistoryEvent]:
    """The task's registry history (promotions, gate closures, drift alarms), oldest first;
    empty when Redis is already gone."""
    try:
        return list(reversed(deployment.registry.history(task, limit=1000)))
    except redis.RedisError:
        return []


def _store_size(deployment: Deployment, task: str) -> float | None:
    key = ("tracer_stream_trainer_store_traces", (("task", task),))
    return deployment.metrics("trainer").get(key)


def wait_trainer_stored(deployment: Deployment, task: str, traces: int, stop: threading.Event,
                        timeout_s: float = 60.0) -> None:
    """Wait until the trainer's store holds at least ``traces`` traces of the task."""
    deadline = time.monotonic() + timeout_s
    while (_store_size(deployment, task) or 0) < traces:
        deployment.check()
        if stop.is_set() or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def refit(deployment: Deployment, task: str, after_day: int, stop: threading.Event,
          timeout_s: float = 600.0) -> RefitResult:
    """Ask the running trainer for a refit of ``task`` and wait for its outcome."""
    registry = deployment.registry
    state = TrainerState(registry.client, deployment.stack.redis.key_prefix)
    before = state.last_refit(task)["at"]
    started = time.monotonic()
    state.request_refit(task, "manual")
    while True:
        last = state.last_refit(task)
        if last["at"] > before and last["trigger"] == "manual":  # not an alarm's refit
            break
        deployment.check()
        if stop.is_set():
            raise KeyboardInterrupt
        if time.monotonic() - started > timeout_s:
            raise DemoError(f"the trainer did not finish the refit of {task} within "
                            f"{timeout_s:.0f}s", task=task)
        time.sleep(0.2)
    history = registry.history(task, limit=1)
    current = registry.current(task)
    return RefitResult(after_day=after_day, outcome=str(last["outcome"]),
                       reason=str(history[0].get("reason", "")) if history else "",
                       current=current, seconds=time.monotonic() - started,
                       certificate=certificate(deployment, task, current))


def wait_router_serves(deployment: Deployment, task: str, version: str, stop: threading.Event,
                       timeout_s: float = 30.0) -> bool:
    """Wait until the router reports serving ``version`` of ``task``."""
    key = ("tracer_stream_router_model_info", (("task", task), ("version", version)))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        if deployment.metrics("router").get(key) == 1.0:
            return True
        deployment.check()
        time.sleep(0.2)
    return False
