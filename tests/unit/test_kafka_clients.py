"""Every Kafka setting reaches both client families: librdkafka (router, worker, CLI) and faust
(trainer), or is listed with the reason it does not apply to faust."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from tracer_stream.config import KafkaSettings
from tracer_stream.config.kafka_clients import NOT_FOR_FAUST, faust_options
from tracer_stream.errors import ConfigError

pytestmark = pytest.mark.unit

CHANGED: dict[str, Any] = {
    "bootstrap_servers": "kafka-a:9093,kafka-b:9093",
    "client_id": "acme",
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "svc",
    "sasl_password": SecretStr("pw"),
    "ssl_ca_location": "/etc/ca.pem",
    "ssl_certificate_location": "/etc/cert.pem",
    "ssl_key_location": "/etc/key.pem",
    "ssl_key_password": SecretStr("kpw"),
    "session_timeout_ms": 45000,
    "heartbeat_interval_ms": 3000,
    "fetch_wait_max_ms": 500,
    "compression": "zstd",
    "extra": {"max.poll.interval.ms": "600000"},
}
SSL_ONLY = {"ssl_ca_location", "ssl_certificate_location", "ssl_key_location",
            "ssl_key_password"}
SASL = {"sasl_mechanism", "sasl_username", "sasl_password"}


def _both(kafka: KafkaSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    conf = kafka.consumer_config("g") | kafka.producer_config()
    return conf, faust_options(conf)


def test_the_test_covers_every_kafka_setting():
    assert set(CHANGED) == set(KafkaSettings.model_fields) - {"model_config"}


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_each_setting_changes_the_librdkafka_options_and_the_faust_options(field, monkeypatch):
    # the SSL file settings are read when faust's SSL context is built: see the TLS test below
    # SASL fields only matter under a SASL protocol, on both sides
    start: dict[str, Any] = {"security_protocol": "SASL_PLAINTEXT"} if field in SASL else {}
    base = KafkaSettings(_env_file=None, **start)
    changed = KafkaSettings(_env_file=None, **start, **{field: CHANGED[field]})
    conf0, faust0 = _both(base)
    conf1, _ = _both(changed)
    assert conf1 != conf0, f"{field} does not reach librdkafka"
    new_keys = {k for k in conf1 if conf1.get(k) != conf0.get(k)}
    if field in SSL_ONLY or new_keys <= set(NOT_FOR_FAUST):
        assert field in SSL_ONLY or new_keys <= set(NOT_FOR_FAUST)
        return
    assert _plain(faust_options(conf1)) != _plain(faust0), f"{field} does not reach faust"


def _plain(opts: dict[str, Any]) -> dict[str, Any]:
    """The options with faust's credentials object replaced by what it holds."""
    creds = opts["broker_credentials"]
    held = None if creds is None else (creds.username, creds.password, str(creds.mechanism))
    return opts | {"broker_credentials": held}


def test_sasl_credentials_reach_faust():
    _, opts = _both(KafkaSettings(_env_file=None, security_protocol="SASL_PLAINTEXT",
                                  sasl_mechanism="SCRAM-SHA-256", sasl_username="svc",
                                  sasl_password=SecretStr("pw")))
    creds = opts["broker_credentials"]
    assert (creds.username, creds.password, creds.mechanism.value) == ("svc", "pw",
                                                                      "SCRAM-SHA-256")


def test_an_extra_option_faust_cannot_honour_is_refused_not_dropped():
    with pytest.raises(ConfigError, match=r"queue\.buffering\.max\.ms"):
        _both(KafkaSettings(_env_file=None, extra={"queue.buffering.max.ms": "5"}))


@pytest.mark.parametrize("field", ["ssl_ca_location", "ssl_certificate_location"])
def test_tls_files_reach_faust(field, tmp_path):
    missing = str(tmp_path / "missing.pem")
    kafka = KafkaSettings(_env_file=None, security_protocol="SSL", **{field: missing})
    with pytest.raises((FileNotFoundError, OSError)):
        _both(kafka)
