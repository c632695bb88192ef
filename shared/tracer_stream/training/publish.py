"""Making a version current and telling the routers: the registry first, then a
:class:`~tracer_stream.contracts.ModelAnnounce` on the models topic (keyed by task).

Routers that miss an announcement still converge: the registry is the source of truth and the
announcement only says "look now".
"""

from __future__ import annotations

import logging

from tracer_stream.bus import DeliveryPolicy, Producer
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import ModelAnnounce, Outbound
from tracer_stream.contracts.messages import AnnounceAction
from tracer_stream.errors import BusError
from tracer_stream.registry import Registry
from tracer_stream.training.state import TrainerState

log = logging.getLogger(__name__)

ONE_ATTEMPT = DeliveryPolicy(attempts=1)


class Announcer:
    """Publishes model announcements and waits until the broker acknowledged them."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        self._kafka = kafka
        self._topic = topics.name("models")
        self._producer: Producer | None = None

    def announce(self, task: str, version: str | None, action: AnnounceAction,
                 reason: str) -> bool:
        """Publish and wait for the acknowledgement; False (logged) when Kafka failed — the
        registry already holds the change, and routers poll it, so one attempt is enough."""
        if self._producer is None:
            self._producer = Producer(self._kafka)
        announce = ModelAnnounce(task=task, version=version, action=action, reason=reason)
        try:
            self._producer.deliver([Outbound(self._topic, announce, task)], ONE_ATTEMPT)
        except BusError as exc:
            log.warning("could not announce %s %s of %s: %s", action, version, task, exc)
            return False
        return True

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None


def make_current(registry: Registry, announcer: Announcer, task: str, version: str, *,
                 action: AnnounceAction, reason: str,
                 fence: tuple[str, int] | None = None) -> bool:
    """Serve ``version`` (``action`` is "promote" or "rollback") and open the task's gate if the
    live monitor or an operator had closed it: every deployment (also of the version already
    current) is monitored afresh, with its own share of the error budget
    (:mod:`tracer_stream.training.live_guard`). ``fence``: a trainer generation that must still be
    current (:mod:`tracer_stream.training.fencing`; raises ``FencedOut`` otherwise, changing
    nothing). Returns whether every announcement was acknowledged."""
    registry.set_current(task, version, action=action, reason=reason, fence=fence)
    TrainerState(registry.client, registry.prefix).mark_deployment(task)
    announced = announcer.announce(task, version, action, reason)
    if not registry.gate(task)["open"]:
        registry.set_gate(task, open_=True, reason=f"{action} {version}")
        announced &= announcer.announce(task, version, "open_gate", f"{action} {version}")
    return announced


def close_gate(registry: Registry, announcer: Announcer, task: str, reason: str) -> bool:
    """Defer every request of ``task`` to the teacher until a version is made current again.
    Returns whether the announcement was acknowledged."""
    registry.set_gate(task, open_=False, reason=reason)
    return announcer.announce(task, registry.current(task), "close_gate", reason)
