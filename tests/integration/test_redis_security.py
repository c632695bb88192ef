"""Redis with an ACL user, a password and mutual TLS, reached through the settings every process
uses (``RedisSettings.client()``): the registry in process and the ``task`` CLI in a
subprocess configured only by ``TRACER_STREAM_REDIS_*`` variables. A private CA, the server and
the client certificates are generated for the test."""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from tests.integration.procs import env_with, wait_until
from tracer_stream.config import RedisSettings
from tracer_stream.registry import Registry
from tracer_stream.stack import free_port
from tracer_stream.stack.binaries import redis_binary
from tracer_stream.stack.ports import wait_port
from tracer_stream.stack.process import ManagedProcess
from tracer_stream.tasks import Task

USER = "tracer-app"
PREFIX = "acl-app:"


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str]]:
    """A Redis that speaks only TLS, requires client certificates, and has an ACL user limited
    to the keys under ``PREFIX`` (the default user is off)."""
    tmp = tmp_path_factory.mktemp("redis-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _certificate("test CA", ca_key, ca_name, ca_key, ca=True)
    (tmp / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(tmp / name, _certificate(name, key, ca_name, ca_key, ca=False), key)
    password = secrets.token_urlsafe(16)
    config = tmp / "redis.conf"
    config.write_text(f"user default off\nuser {USER} on >{password} ~{PREFIX}* &{PREFIX}* +@all\n")
    port = free_port()
    proc = ManagedProcess("redis", tmp)
    proc.start([str(redis_binary()), str(config), "--port", "0", "--tls-port", str(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp),
                "--tls-cert-file", str(tmp / "server.crt"),
                "--tls-key-file", str(tmp / "server.key"),
                "--tls-ca-cert-file", str(tmp / "ca.crt"), "--tls-auth-clients", "yes"])
    try:
        assert wait_port(port, 10), proc.log_file.read_text()
        yield tmp, port, password
    finally:
        proc.stop()


def _settings(tmp: Path, port: int, secret: str, **changes: object) -> RedisSettings:
    base = RedisSettings(url=SecretStr(f"redis://127.0.0.1:{port}/0"), username=USER,
                         password=SecretStr(secret), ssl=True,
                         ssl_ca_certs=str(tmp / "ca.crt"),
                         ssl_certfile=str(tmp / "client.crt"),
                         ssl_keyfile=str(tmp / "client.key"), key_prefix=PREFIX)
    return base.model_copy(update=changes)


def test_the_registry_works_over_mutual_tls_as_an_acl_user(
        tls_redis: tuple[Path, int, str]) -> None:
    tmp, port, password = tls_redis
    settings = _settings(tmp, port, password)
    wait_until(lambda: bool(settings.client().ping()), 10, what="TLS Redis answers")
    registry = Registry.from_settings(settings)
    try:
        registry.put_task(Task(name="secure", labels=["a", "b"]))
        task = registry.get_task("secure")
        assert task is not None and list(task.label_names) == ["a", "b"]
        with pytest.raises(redis.exceptions.NoPermissionError):
            registry.client.get("tracer:task:secure")  # outside the user's key pattern
    finally:
        registry.close()


@pytest.mark.parametrize("change", [
    {"password": SecretStr("wrong-password")},
    {"username": None},
])
def test_wrong_credentials_are_refused(tls_redis: tuple[Path, int, str],
                                       change: dict[str, object]) -> None:
    tmp, port, password = tls_redis
    with pytest.raises(redis.exceptions.AuthenticationError):
        _settings(tmp, port, password, **change).client().ping()


def test_tls_is_required_both_ways(tls_redis: tuple[Path, int, str]) -> None:
    tmp, port, password = tls_redis
    for change in ({"ssl": False, "ssl_ca_certs": None, "ssl_certfile": None,
                    "ssl_keyfile": None},  # plaintext to a TLS port
                   {"ssl_certfile": None, "ssl_keyfile": None},  # no client certificate
                   {"ssl_ca_certs": None}):  # the server's CA is not trusted
        with pytest.raises(redis.exceptions.ConnectionError):
            _settings(tmp, port, password, **change).client().ping()


def test_the_cli_reaches_redis_with_only_environment_variables(
        tls_redis: tuple[Path, int, str], tmp_path: Path) -> None:
    tmp, port, password = tls_redis
    task_file = tmp_path / "task.yaml"
    task_file.write_text("name: from-cli\nlabels: [spam, ham]\n")
    env = env_with({k: v for k, v in os.environ.items() if not k.startswith("TRACER_STREAM")},
                   TRACER_STREAM_REDIS_URL=f"redis://127.0.0.1:{port}/0",
                   TRACER_STREAM_REDIS_USERNAME=USER, TRACER_STREAM_REDIS_PASSWORD=password,
                   TRACER_STREAM_REDIS_SSL="true",
                   TRACER_STREAM_REDIS_SSL_CA_CERTS=str(tmp / "ca.crt"),
                   TRACER_STREAM_REDIS_SSL_CERTFILE=str(tmp / "client.crt"),
                   TRACER_STREAM_REDIS_SSL_KEYFILE=str(tmp / "client.key"),
                   TRACER_STREAM_REDIS_KEY_PREFIX=PREFIX)
    for args in (["task", "apply", str(task_file)], ["task", "list"]):
        run = subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert "from-cli" in run.stdout
        assert password not in run.stdout + run.stderr
