"""docker-compose.yml, .env.example and the Prometheus config, checked offline (no Docker
engine here): the compose-spec schema through the installed `check-jsonschema`, then what the
schema cannot see — health-gated start order, one-shot topic creation, no inline secrets, and
settings the services really read."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from .conftest import NON_SETTINGS_ENV, REPO, SERVICES, settings_env_names

pytestmark = pytest.mark.unit

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
PORTS = {"router": 8081, "worker": 8082, "trainer": 8083}
SECRET_ENV = {
    "TRACER_STREAM_WORKER_API_KEY",
    "TRACER_STREAM_MODEL_SIGNING_KEY",
    "TRACER_STREAM_KAFKA_SASL_PASSWORD",
    "TRACER_STREAM_KAFKA_SSL_KEY_PASSWORD",
    "TRACER_STREAM_REDIS_PASSWORD",
}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _interpolate(value: Any) -> str:
    """Resolve ${VAR:-default} the way compose does with VAR unset."""
    return _INTERPOLATION.sub(lambda m: m.group("default") or "", str(value))


def _env_example() -> dict[str, str]:
    """Assignments in .env.example, including the commented-out ones."""
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            pairs[match.group(1)] = match.group(2)
    return pairs


def test_compose_validates_against_the_compose_spec() -> None:
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema is not installed (dev extra)")
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kafka_is_a_single_kraft_node(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert _interpolate(kafka["image"]).startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert not any("ZOOKEEPER" in k for k in env)
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false", "topics are created explicitly"
    assert "healthcheck" in kafka
    assert "healthcheck" in compose["services"]["redis"]


def test_topics_are_created_once_before_the_services_start(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"] == ["topics", "create"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["topics"]["condition"] == "service_completed_successfully", name


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_its_command_with_a_health_check(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["command"] == [name]
    env = service["environment"]
    port = PORTS[name]
    assert str(env[f"TRACER_STREAM_{name.upper()}_HTTP_PORT"]) == str(port)
    assert env[f"TRACER_STREAM_{name.upper()}_HTTP_HOST"] == "0.0.0.0"
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in probe
    assert any(p.endswith(f":{port}") for p in (_interpolate(x) for x in service["ports"]))
    assert service["stop_signal"] == "SIGTERM"


def test_trainer_keeps_its_trace_store_on_a_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["trainer"]["volumes"]
    assert "trainer-state:/var/lib/tracer-stream" in volumes
    assert compose["services"]["trainer"]["environment"]["TRACER_STREAM_STATE_DIR"] == (
        "/var/lib/tracer-stream"
    )
    assert "trainer-state" in compose["volumes"]


def test_secrets_come_from_the_env_file_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        inline = SECRET_ENV & set(env)
        assert not inline, f"{name} sets {inline} inline; they belong in .env"
        for value in env.values():
            assert "sk-" not in str(value)
    for name in (*SERVICES, "topics"):
        files = compose["services"][name]["env_file"]
        # The signing key lives in trainer.env, which only the trainer reads.
        expected = [".env", "trainer.env"] if name == "trainer" else [".env"]
        assert [f["path"] for f in files] == expected, name
    assert re.search(r"^\.env$", (REPO / ".gitignore").read_text(), flags=re.MULTILINE)
    assert re.search(r"^trainer\.env$", (REPO / ".gitignore").read_text(), flags=re.MULTILINE)
    assert "!.env.example" in (REPO / ".gitignore").read_text()


def test_env_example_names_real_settings_and_holds_no_secret() -> None:
    pairs = _env_example()
    known = settings_env_names() | NON_SETTINGS_ENV
    ours = {k for k in pairs if k.startswith("TRACER_STREAM_")}
    assert ours - known == set(), f"no setting reads {sorted(ours - known)}"
    assert SECRET_ENV & ours >= {"TRACER_STREAM_WORKER_API_KEY"}
    assert "TRACER_STREAM_MODEL_SIGNING_KEY" not in ours  # trainer.env.example holds it
    assert "TRACER_STREAM_MODEL_VERIFY_KEYS" in ours
    trainer_env = REPO / "trainer.env.example"
    assert "# TRACER_STREAM_MODEL_SIGNING_KEY=" in trainer_env.read_text()
    for example in (ENV_EXAMPLE, trainer_env):
        for line in example.read_text().splitlines():
            for secret in SECRET_ENV:
                if line.startswith(f"{secret}="):
                    pytest.fail(f"{secret} must stay commented out in {example.name}: {line!r}")


def test_compose_settings_are_read_by_the_services(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracer_stream import config

    known = settings_env_names() | NON_SETTINGS_ENV
    example = {k: v for k, v in _env_example().items() if k.startswith("TRACER_STREAM_")}
    commented = {
        m.group(1)
        for m in re.finditer(r"^#\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    }
    classes = {"router": config.RouterSettings, "worker": config.WorkerSettings,
               "trainer": config.TrainerSettings}
    for name in SERVICES:
        env = {k: v for k, v in example.items() if k not in commented}
        service_env = compose["services"][name]["environment"]
        env.update({k: _interpolate(v) for k, v in service_env.items()})
        unknown = {k for k in env if k.startswith("TRACER_STREAM_")} - known
        assert not unknown, f"{name}: no setting reads {sorted(unknown)}"
        for var in [v for v in os.environ if v.startswith("TRACER_STREAM_")]:
            monkeypatch.delenv(var)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = classes[name]()
        assert settings.kafka.bootstrap_servers == "kafka:19092"
        assert settings.redis.url.get_secret_value() == "redis://redis:6379/0"
        assert settings.http_port == PORTS[name]
        assert settings.http_host == "0.0.0.0"


def test_prometheus_is_optional_and_scrapes_every_service(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in prometheus["volumes"] if m.startswith("./")}
    for source in mounts:
        assert (REPO / source).is_file(), source
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert targets == {f"{name}:{port}" for name, port in PORTS.items()}
    assert all(job["metrics_path"] == "/metrics" for job in config["scrape_configs"])
    assert config["rule_files"] == [mounts["./helm/tracer-stream/files/alerts.yml"]]
