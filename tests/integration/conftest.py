"""Session-wide real services: a Tansu Kafka-protocol broker and a Redis server on free
loopback ports, started once and always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.procs import VERIFIER_ENV, wait_until
from tracer_stream.config import KafkaSettings, RedisSettings, TopicSettings
from tracer_stream.stack import EmbeddedStack, free_port
from tracer_stream.stack.binaries import redis_binary


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    state = tmp_path_factory.mktemp("stack")
    embedded = EmbeddedStack(state, kafka_port=free_port(), redis_port=free_port(),
                             topics=TopicSettings(prefix="it."))
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.down()


@pytest.fixture(scope="session")
def kafka(stack: EmbeddedStack) -> KafkaSettings:
    return stack.kafka


@pytest.fixture(scope="session")
def redis_settings(stack: EmbeddedStack) -> RedisSettings:
    return stack.redis


@pytest.fixture
def redis_client(redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    client = redis_settings.client()
    yield client
    client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of one test only (it gets SIGSTOPped or stopped): the process and its
    URL."""
    port = free_port()
    proc = subprocess.Popen([str(redis_binary()), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _pings(url), 10, 0.1, what="redis-server up")
        yield proc, url
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(10)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def fresh_topics(kafka: KafkaSettings) -> TopicSettings:
    """A topic set with a unique prefix, created explicitly, for tests that need isolation."""
    from tracer_stream.bus import ensure_topics

    topics = TopicSettings(prefix=f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka, topics)
    return topics


@pytest.fixture(scope="session")
def service_env(stack: EmbeddedStack) -> dict[str, str]:
    """Environment for a tracer-stream subprocess pointed at the test stack, trusting the
    session's model key (a trainer adds :data:`~tests.integration.procs.SIGNER_ENV`)."""
    return {**os.environ, **stack.env(), "TRACER_STREAM_TOPICS_PREFIX": stack.topics.prefix,
            **VERIFIER_ENV}


@pytest.fixture(scope="session")
def kcat_env() -> dict[str, str]:
    """Environment for Debian's ``kcat``. Debian bookworm links it to librdkafka 2.0.2, which
    mis-parses the test broker's (Tansu 0.6) ApiVersions v3 response; pointing the dynamic
    loader at the librdkafka bundled with confluent-kafka runs the same kcat binary with a
    current librdkafka. Against a real Apache Kafka cluster plain ``kcat`` works as is."""
    import shutil

    import confluent_kafka

    if shutil.which("kcat") is None:  # scripts/install no longer installs it (docs/router.md)
        pytest.skip("kcat is not installed")
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    bundled = sorted(libs.glob("librdkafka*.so*"))
    if not bundled:
        return dict(os.environ)
    shim = Path(os.environ.get("TMPDIR", "/tmp")) / f"tracer-stream-rdkafka-{os.getuid()}"
    shim.mkdir(exist_ok=True)
    link = shim / "librdkafka.so.1"
    if not link.exists():
        link.symlink_to(bundled[0])
    return {**os.environ, "LD_LIBRARY_PATH": str(shim)}
