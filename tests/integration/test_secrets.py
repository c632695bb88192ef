"""A secret planted in every secret-bearing setting never shows in any output: ``config show``
of each service, the router's start-up log and its errors against an unreachable broker and
Redis, the worker's, and a CLI error (an unreachable Redis)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.procs import VERIFIER_ENV, ServiceProcess, env_with, wait_until
from tracer_stream.stack import free_port

SIGNING_KEY = base64.b64encode(b"planted-signing-seed-0123456789a").decode()  # 32 bytes
PLANTED = {
    "TRACER_STREAM_KAFKA_SASL_PASSWORD": "planted-sasl-9181",
    "TRACER_STREAM_KAFKA_SSL_KEY_PASSWORD": "planted-sslkey-9182",
    "TRACER_STREAM_KAFKA_EXTRA": '{"sasl.password": "planted-extra-9183"}',
    "TRACER_STREAM_REDIS_PASSWORD": "planted-redis-9185",
    "TRACER_STREAM_WORKER_API_KEY": "planted-api-9186",
    "TRACER_STREAM_WORKER_REQUEST_EXTRA":
        '{"headers": {"Authorization": "Bearer planted-bearer-9188", "api-key": "planted-9189"}}',
    "TRACER_STREAM_MODEL_SIGNING_KEY": SIGNING_KEY,
}
SECRETS = ["planted-sasl-9181", "planted-sslkey-9182", "planted-extra-9183", "planted-url-9184",
           "planted-redis-9185", "planted-api-9186", "planted-base-9187", "planted-bearer-9188",
           "planted-9189", SIGNING_KEY]


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    """Every secret planted; the broker and Redis point at closed loopback ports."""
    closed = free_port()
    return env_with({k: v for k, v in os.environ.items() if not k.startswith("TRACER_STREAM")},
                    **PLANTED, **VERIFIER_ENV,
                    TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed}",
                    TRACER_STREAM_REDIS_URL=f"redis://app:planted-url-9184@127.0.0.1:{closed}/0",
                    TRACER_STREAM_WORKER_BASE_URL=f"http://u:planted-base-9187@127.0.0.1:{closed}"
                                                  "/v1",
                    TRACER_STREAM_ROUTER_HTTP_PORT="0", TRACER_STREAM_WORKER_HTTP_PORT="0",
                    TRACER_STREAM_ROUTER_EMBEDDER="hash:256")


def cli(env: dict[str, str], *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
                         capture_output=True, text=True, timeout=60)
    return run.stdout + run.stderr


def _both_refused(out: str) -> bool:
    """The log shows a refused connection to Redis (redis-py) and to the broker
    (librdkafka)."""
    return "Error 111 connecting" in out and "failed: Connection refused" in out


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_config_show_masks_every_secret(env: dict[str, str]) -> None:
    for service in ("router", "worker", "trainer"):
        shown = cli(env, "config", "show", "--service", service)
        assert '"bootstrap_servers"' in shown, shown
        assert leaked(shown) == [], service
    worker = cli(env, "config", "show", "--service", "worker")
    assert "http://u:**********@127.0.0.1" in worker and '"api-key": "**********"' in worker


def test_a_cli_error_against_an_unreachable_redis_masks_every_secret(
        env: dict[str, str]) -> None:
    out = cli(env, "task", "list")
    assert "cannot reach Redis" in out
    assert leaked(out) == []


@pytest.mark.parametrize("service", ["router", "worker"])
def test_a_service_start_up_and_its_connection_errors_mask_every_secret(
        env: dict[str, str], service: str, tmp_path: Path) -> None:
    proc = ServiceProcess([service], env, tmp_path / f"{service}.log")
    wait_until(lambda: bool(proc.output().strip()) or not proc.alive(), 90,
               what=f"{service} output")
    wait_until(lambda: _both_refused(proc.output()) or not proc.alive(), 60,
               what=f"{service}'s failing connections to the broker and Redis")
    proc.stop(timeout_s=10)
    out = proc.output()
    assert leaked(out) == [], out[-3000:]
    if service == "router":
        assert "router starting" in out and "**********" in out
