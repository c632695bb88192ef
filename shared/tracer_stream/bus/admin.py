"""Create the deployment's topics explicitly and idempotently (never rely on auto-creation)."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)

TRACES_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": str(24 * 3600 * 1000),
}
"""The traces topic is the system of record (docs/trainer.md, "Traces on Kafka"): compacted on
its key, the request id, and never deleted by age; compaction leaves the newest trace per
request id and waits a day, so the trainer reads redeliveries before they are folded."""


def topic_config(topics: TopicSettings, kind: str) -> dict[str, str]:
    """Creation config of the topic ``kind``: the traces topic's record settings, and
    ``retention.ms`` where configured (on the traces topic it adds deletion by age to
    compaction: the topic then stops being a complete record)."""
    config = dict(TRACES_TOPIC_CONFIG) if kind == "traces" else {}
    if kind in topics.retention_ms:
        config["retention.ms"] = str(topics.retention_ms[kind])
        if kind == "traces":
            config["cleanup.policy"] = "compact,delete"
    return config


def ensure_topics(
    kafka: KafkaSettings, topics: TopicSettings, *, timeout_s: float = 15.0
) -> dict[str, str]:
    """Create every topic of ``topics`` that does not exist yet.

    Returns ``{topic: "created" | "exists"}``. An existing topic with fewer partitions than
    configured is reported, not altered (changing partition counts remaps keys).
    """
    admin = AdminClient(kafka.common_config())
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise BusError(
            f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}",
            bootstrap_servers=kafka.bootstrap_servers,
        ) from None
    status: dict[str, str] = {}
    wanted = []
    for kind, name in topics.all_names().items():
        if name in existing:
            have = len(existing[name].partitions)
            if have < topics.partitions:
                log.warning("topic %s has %d partitions, %d configured", name, have,
                            topics.partitions)
            status[name] = "exists"
            continue
        wanted.append(NewTopic(name, num_partitions=topics.partitions,
                               replication_factor=topics.replication_factor,
                               config=topic_config(topics, kind)))
    if wanted:
        futures = admin.create_topics(wanted, operation_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                status[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    status[name] = "exists"
                    continue
                raise BusError(f"could not create topic {name}: {exc}", topic=name) from None
    return status
