"""Kafka settings for the faust trainer and the asyncio client SDK (both aiokafka underneath),
translated from the same librdkafka options the router and the worker use.

:class:`~tracer_stream.config.KafkaSettings` turns settings into librdkafka options
(``producer_config`` / ``consumer_config``, ``extra`` applied last). That dictionary is the one
form of the Kafka settings: the confluent-kafka services use it as it is, and
:func:`faust_options` translates it, key by key, into the arguments of ``faust.App`` (aiokafka
underneath). A key with no faust equivalent is an error at start-up, never silently dropped —
except the keys in :data:`NOT_FOR_FAUST`, which say why they do not apply.

>>> opts = faust_options({"bootstrap.servers": "k1:9092,k2:9092", "client.id": "ts",
...                       "security.protocol": "PLAINTEXT", "session.timeout.ms": 6000,
...                       "compression.type": "gzip"})
>>> opts["broker"], opts["broker_session_timeout"], opts["producer_compression_type"]
(['kafka://k1:9092', 'kafka://k2:9092'], 6.0, 'gzip')
>>> faust_options({"bootstrap.servers": "k:9092", "queue.buffering.max.ms": "5"})
Traceback (most recent call last):
...
tracer_stream.errors.ConfigError: no faust equivalent ... (option='queue.buffering.max.ms')
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any

from tracer_stream.errors import ConfigError

_SECURITY_KEYS = ("security.protocol", "sasl.mechanism", "sasl.username", "sasl.password",
                  "ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
                  "ssl.key.password")


def _seconds(value: Any) -> float:
    return int(value) / 1000.0


def _acks(value: Any) -> int:
    return -1 if str(value) == "all" else int(value)


_SIMPLE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "client.id": ("broker_client_id", lambda v: f"{v}-trainer"),
    "session.timeout.ms": ("broker_session_timeout", _seconds),
    "heartbeat.interval.ms": ("broker_heartbeat_interval", _seconds),
    "max.poll.interval.ms": ("broker_max_poll_interval", _seconds),
    "request.timeout.ms": ("broker_request_timeout", _seconds),
    "compression.type": ("producer_compression_type", str),
    "linger.ms": ("producer_linger", _seconds),
    "acks": ("producer_acks", _acks),
    "max.partition.fetch.bytes": ("consumer_max_fetch_size", int),
    "message.max.bytes": ("producer_max_request_size", int),
}
"""librdkafka key -> (faust.App argument, conversion)."""

NOT_FOR_FAUST: dict[str, str] = {
    "fetch.wait.max.ms": "faust fixes the consumer's fetch wait at 1.5 s; the trainer is not "
                         "latency-bound",
    "group.id": "the trainer's group is TRACER_STREAM_TRAINER_GROUP_ID",
    "enable.auto.commit": "faust commits what its agents acknowledged",
    "auto.offset.reset": "the trainer always starts a new group at the earliest offset",
    "partition.assignment.strategy": "faust uses its own assignor",
    "enable.idempotence": "aiokafka's idempotent producer is not used: the trainer produces "
                          "only dead letters and announcements, both safe to repeat",
    "topic.metadata.propagation.max.ms": "the trainer produces only to the deployment's own "
                                         "topics, created before it starts",
}
"""librdkafka keys that deliberately do not reach faust, and why."""


def faust_options(librdkafka: Mapping[str, Any]) -> dict[str, Any]:
    """``faust.App`` keyword arguments for the librdkafka options ``librdkafka``."""
    opts: dict[str, Any] = {
        "broker": [f"kafka://{host.strip()}"
                   for host in str(librdkafka["bootstrap.servers"]).split(",")],
        "broker_credentials": _credentials(librdkafka),
    }
    for key, value in librdkafka.items():
        if key == "bootstrap.servers" or key in _SECURITY_KEYS or key in NOT_FOR_FAUST:
            continue
        if key not in _SIMPLE:
            raise ConfigError("no faust equivalent for this kafka option, so the trainer cannot "
                              "honour it (TRACER_STREAM_KAFKA_EXTRA)", option=key)
        name, convert = _SIMPLE[key]
        opts[name] = convert(value)
    return opts


def aiokafka_options(conf: Mapping[str, Any]) -> dict[str, Any]:
    """Connection and security keyword arguments of aiokafka's producer and consumer (the
    client SDK) for the librdkafka options ``conf``; other options do not apply there.

    >>> aiokafka_options({"bootstrap.servers": "k:9092", "client.id": "app",
    ...                   "security.protocol": "SASL_PLAINTEXT", "sasl.username": "u",
    ...                   "sasl.password": "p", "linger.ms": 5})["sasl_mechanism"]
    'PLAIN'
    """
    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    kwargs: dict[str, Any] = {"bootstrap_servers": str(conf["bootstrap.servers"]),
                              "client_id": str(conf.get("client.id", "tracer-stream")),
                              "security_protocol": protocol,
                              "ssl_context": _ssl_context(conf)}
    if protocol.startswith("SASL"):
        kwargs |= {"sasl_mechanism": conf.get("sasl.mechanism") or "PLAIN",
                   "sasl_plain_username": conf.get("sasl.username"),
                   "sasl_plain_password": conf.get("sasl.password")}
    return kwargs


def _ssl_context(conf: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The TLS context of the librdkafka options (None unless the protocol uses TLS)."""
    if str(conf.get("security.protocol", "PLAINTEXT")).upper() not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=conf.get("ssl.ca.location"))
    if conf.get("ssl.certificate.location"):
        context.load_cert_chain(conf["ssl.certificate.location"],
                                conf.get("ssl.key.location"), conf.get("ssl.key.password"))
    return context


def _credentials(conf: Mapping[str, Any]) -> Any:
    """faust's form of the librdkafka security options (None for PLAINTEXT)."""
    import faust  # the trainer's dependency; the other services never call this

    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    context = _ssl_context(conf)
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(username=conf.get("sasl.username"),
                                     password=conf.get("sasl.password") or "",
                                     mechanism=conf.get("sasl.mechanism") or "PLAIN",
                                     ssl_context=context)
    return faust.SSLCredentials(context) if context is not None else None


__all__ = ["NOT_FOR_FAUST", "aiokafka_options", "faust_options"]
