"""Settings: environment prefixes, librdkafka pass-through, masked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer_stream.config import (
    KafkaSettings,
    RouterSettings,
    TopicSettings,
    WorkerSettings,
    masked_dump,
)


def test_defaults_point_at_the_embedded_stack() -> None:
    settings = RouterSettings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:39092"
    assert settings.redis.url.get_secret_value() == "redis://127.0.0.1:36379/0"
    assert settings.http_host == "127.0.0.1"
    consumer = settings.kafka.consumer_config("g")
    assert consumer["enable.auto.commit"] is False
    assert consumer["session.timeout.ms"] == 6000
    assert consumer["auto.offset.reset"] == "earliest"


def test_environment_overrides_and_librdkafka_pass_through(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("TRACER_STREAM_KAFKA_EXTRA", '{"linger.ms": "25", "acks": "1"}')
    monkeypatch.setenv("TRACER_STREAM_TOPICS_PREFIX", "prod.")
    monkeypatch.setenv("TRACER_STREAM_ROUTER_BATCH_MAX_SIZE", "128")
    settings = RouterSettings()
    assert settings.kafka.bootstrap_servers == "kafka-1:9092"
    assert settings.kafka.producer_config()["linger.ms"] == "25"
    assert settings.kafka.producer_config()["acks"] == "1"
    assert settings.topics.name("llm_requests") == "prod.llm-requests"
    assert settings.batch_max_size == 128


def test_secrets_are_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_STREAM_WORKER_API_KEY", "sk-very-secret")
    monkeypatch.setenv("TRACER_STREAM_KAFKA_SASL_PASSWORD", "kafka-secret")
    monkeypatch.setenv("TRACER_STREAM_REDIS_URL", "redis://:redis-secret@host:6379/0")
    settings = WorkerSettings()
    text = f"{settings!r} {settings} {masked_dump(settings)}"
    for secret in ("sk-very-secret", "kafka-secret", "redis-secret"):
        assert secret not in text
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-very-secret"
    assert settings.kafka.common_config()["sasl.password"] == "kafka-secret"


def test_the_model_signing_key_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracer_stream.config import TrainerSettings
    from tracer_stream.signing import SigningKey

    seed = SigningKey.generate().seed_b64
    monkeypatch.setenv("TRACER_STREAM_MODEL_SIGNING_KEY", seed)
    settings = TrainerSettings()
    assert seed not in f"{settings!r} {settings} {masked_dump(settings)}"
    assert settings.signing_key().seed_b64 == seed


def test_invalid_values_are_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="security_protocol"):
        KafkaSettings(security_protocol="CARRIER_PIGEON")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="partitions"):
        TopicSettings(partitions=0)


def test_reply_prefixes_are_comma_separated_and_bind_the_reply_topic(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    assert TopicSettings().reply_prefixes == ("tracer.replies.",)
    assert TopicSettings().name("replies") == "tracer.replies.default"
    monkeypatch.setenv("TRACER_STREAM_TOPICS_REPLY_PREFIXES", "app-a.replies., app-b.replies.")
    monkeypatch.setenv("TRACER_STREAM_TOPICS_REPLIES", "app-b.replies.billing")
    topics = TopicSettings()
    assert topics.reply_prefixes == ("app-a.replies.", "app-b.replies.")
    assert topics.all_names()["replies"] == "app-b.replies.billing"
    monkeypatch.setenv("TRACER_STREAM_TOPICS_REPLIES", "payments.events")
    with pytest.raises(ValidationError, match="does not start with one of the reply prefixes"):
        TopicSettings()


def test_redis_acl_and_tls_settings_reach_the_client(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    from tracer_stream.config import RedisSettings
    from tracer_stream.errors import ConfigError

    monkeypatch.setenv("TRACER_STREAM_REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("TRACER_STREAM_REDIS_USERNAME", "tracer")
    monkeypatch.setenv("TRACER_STREAM_REDIS_PASSWORD", "acl-secret")
    monkeypatch.setenv("TRACER_STREAM_REDIS_SSL", "true")
    monkeypatch.setenv("TRACER_STREAM_REDIS_SSL_CA_CERTS", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("TRACER_STREAM_REDIS_SSL_CERTFILE", str(tmp_path / "client.pem"))
    monkeypatch.setenv("TRACER_STREAM_REDIS_SSL_KEYFILE", str(tmp_path / "client.key"))
    settings = RedisSettings()
    pool = settings.client().connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    options = pool.connection_kwargs
    assert (options["host"], options["port"], options["db"]) == ("cache.internal", 6380, 2)
    assert (options["username"], options["password"]) == ("tracer", "acl-secret")
    assert options["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert options["ssl_certfile"] == str(tmp_path / "client.pem")
    assert options["ssl_keyfile"] == str(tmp_path / "client.key")
    assert options["ssl_cert_reqs"] == "required"
    monkeypatch.setenv("TRACER_STREAM_REDIS_SSL", "false")
    with pytest.raises(ConfigError, match="TRACER_STREAM_REDIS_SSL=true"):
        RedisSettings().client()


def test_redis_client_has_bounded_timeouts_and_retries_only_refused_connections(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    from tracer_stream.config import RedisSettings

    monkeypatch.setenv("TRACER_STREAM_REDIS_SOCKET_TIMEOUT_S", "0.7")
    monkeypatch.setenv("TRACER_STREAM_REDIS_CONNECT_RETRIES", "3")
    connection = RedisSettings().client().connection_pool.make_connection()
    assert (connection.socket_timeout, connection.socket_connect_timeout) == (0.7, 0.7)
    retry = connection.retry
    assert retry.get_retries() == 3
    assert [round(retry._backoff.compute(n), 3) for n in (1, 2, 5)] == [0.1, 0.2, 0.5]
    # a timed-out command may have been applied: retrying it could apply an INCR twice
    assert redis.ConnectionError in retry._supported_errors
    assert redis.TimeoutError not in retry._supported_errors
