"""The masking of secrets: settings dumps, URLs, free-form maps, log records, errors."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from tracer_stream.config import RouterSettings, TrainerSettings, WorkerSettings, masked_dump
from tracer_stream.config.secrets import (
    MASK,
    install_redaction,
    mask_url,
    redact_known,
    secret_values,
)

PLANTED = {
    "TRACER_STREAM_KAFKA_SASL_PASSWORD": "planted-sasl-7781",
    "TRACER_STREAM_KAFKA_EXTRA": '{"sasl.password": "planted-extra-7782", "linger.ms": "5"}',
    "TRACER_STREAM_REDIS_URL": "redis://app:planted-url-7783@127.0.0.1:1/0",
    "TRACER_STREAM_REDIS_PASSWORD": "planted-redis-7784",
    "TRACER_STREAM_WORKER_API_KEY": "planted-api-7785",
    "TRACER_STREAM_WORKER_BASE_URL": "https://u:planted-base-7786@llm.example/v1?api_key=k7787",
    "TRACER_STREAM_WORKER_REQUEST_EXTRA":
        '{"headers": {"Authorization": "Bearer planted-bearer-7788", "api-key": "planted-7789"}}',
}
VALUES = ["planted-sasl-7781", "planted-extra-7782", "planted-url-7783", "planted-redis-7784",
          "planted-api-7785", "planted-base-7786", "k7787", "planted-bearer-7788",
          "planted-7789"]


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> WorkerSettings:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    return WorkerSettings()


def test_masked_dump_hides_every_planted_secret_and_keeps_the_rest(
        planted: WorkerSettings) -> None:
    shown = masked_dump(planted)
    text = repr(shown)
    assert [v for v in VALUES if v in text] == []
    assert shown["kafka"]["extra"] == {"sasl.password": MASK, "linger.ms": "5"}
    assert shown["redis"]["url"] == f"redis://app:{MASK}@127.0.0.1:1/0"
    assert shown["base_url"].startswith(f"https://u:{MASK}@llm.example/v1?api_key=")
    assert shown["request_extra"]["headers"] == {"Authorization": MASK, "api-key": MASK}
    assert shown["kafka"]["bootstrap_servers"] == planted.kafka.bootstrap_servers


def test_secret_values_finds_every_planted_secret(planted: WorkerSettings) -> None:
    assert set(VALUES) <= secret_values(planted)
    assert "127.0.0.1:1" not in secret_values(planted)


def test_log_records_and_tracebacks_are_redacted(planted: WorkerSettings,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(planted)
    log = logging.getLogger("tracer_stream.test")
    with caplog.at_level(logging.INFO):
        log.info("connecting to %s", planted.base_url)
        try:
            raise RuntimeError("auth failed for Bearer planted-bearer-7788")
        except RuntimeError:
            log.exception("call failed")
    text = caplog.text
    assert "connecting to https://u:" in text and "call failed" in text
    assert [v for v in VALUES if v in text] == []
    assert redact_known("key planted-api-7785!") == f"key {MASK}!"


def test_urls_without_credentials_are_unchanged() -> None:
    assert mask_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert mask_url("redis://:pw12@h:1/0") == f"redis://:{MASK}@h:1/0"


def test_trainer_settings_mask_the_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_STREAM_MODEL_SIGNING_KEY", "planted-signing-7790")
    settings = TrainerSettings()
    assert isinstance(settings.model_signing_key, SecretStr)
    assert "planted-signing-7790" not in repr(masked_dump(settings))


def test_a_router_does_not_even_read_the_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_STREAM_MODEL_SIGNING_KEY", "planted-signing-7792")
    assert "planted-signing-7792" not in repr(RouterSettings().model_dump())


def test_a_rejected_value_is_not_echoed_in_the_validation_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("TRACER_STREAM_KAFKA_EXTRA", '{"sasl.password": ["planted-bad-7791"]}')
    with pytest.raises(ValidationError) as caught:
        WorkerSettings()
    assert "extra" in str(caught.value) and "planted-bad-7791" not in str(caught.value)
