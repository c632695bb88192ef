"""What a client written from the docs and schemas alone must be able to read: the codec of the
batches the services produce is a setting whose default every Kafka client decodes (gzip), and
the integration docs say so."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from tracer_stream.config import KafkaSettings

from .conftest import REPO

pytestmark = pytest.mark.unit


def test_default_codec_is_one_every_client_reads() -> None:
    assert KafkaSettings().producer_config()["compression.type"] == "gzip"


def test_codec_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACER_STREAM_KAFKA_COMPRESSION", "zstd")
    assert KafkaSettings().producer_config()["compression.type"] == "zstd"
    monkeypatch.setenv("TRACER_STREAM_KAFKA_COMPRESSION", "brotli")
    with pytest.raises(ValueError, match="compression"):
        KafkaSettings()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_librdkafka_accepts_every_codec_the_setting_allows(codec: str) -> None:
    conf = KafkaSettings(compression=codec).producer_config()  # type: ignore[arg-type]
    Producer(conf).flush(0)  # an unknown codec raises KafkaException here


def test_integration_docs_name_the_codec_and_what_clients_must_support() -> None:
    docs = (REPO / "docs" / "operations.md").read_text()
    assert "TRACER_STREAM_KAFKA_COMPRESSION" in docs
    assert "kafka-python" in docs and "gzip" in docs


def test_timings_have_one_definition_in_the_schema() -> None:
    import json

    schema = json.loads((REPO / "schemas" / "routed_label.json").read_text())
    timings = schema["properties"]["timings"]
    assert "one definition" in timings["description"]
    for key, prop in timings["properties"].items():
        assert prop.get("description"), f"timings.{key} has no description"
    assert "not part of total_ms" in timings["properties"]["queue_ms"]["description"]
    assert "part of total_ms" in timings["properties"]["llm_queue_ms"]["description"]
