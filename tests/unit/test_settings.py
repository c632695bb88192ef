"""Settings: environment prefixes, librdkafka pass-through, masked secrets."""

from __future__ import annotations

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
