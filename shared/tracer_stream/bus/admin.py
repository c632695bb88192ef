"""Create the deployment's topics explicitly and idempotently (never rely on auto-creation)."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.errors import BusError

log = logging.getLogger(__name__)


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
        config = {}
        if kind in topics.retention_ms:
            config["retention.ms"] = str(topics.retention_ms[kind])
        wanted.append(NewTopic(name, num_partitions=topics.partitions,
                               replication_factor=topics.replication_factor, config=config))
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
