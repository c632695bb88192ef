"""Settings for every tracer-stream process, read from the environment.

Each group has its own prefix so that one ``.env`` file can configure a whole deployment:

========================  ===========================  ==========================================
class                     prefix                       what
========================  ===========================  ==========================================
:class:`KafkaSettings`    ``TRACER_STREAM_KAFKA_``     brokers, security, librdkafka pass-through
:class:`TopicSettings`    ``TRACER_STREAM_TOPICS_``    topic names (with a prefix) and partitions
:class:`RedisSettings`    ``TRACER_STREAM_REDIS_``     Redis URL and key namespace
:class:`LimitsSettings`   ``TRACER_STREAM_LIMITS_``    message and text size limits
:class:`RouterSettings`   ``TRACER_STREAM_ROUTER_``    the router service
:class:`WorkerSettings`   ``TRACER_STREAM_WORKER_``    the LLM worker service
:class:`TrainerSettings`  ``TRACER_STREAM_TRAINER_``   the trainer service
========================  ===========================  ==========================================

Defaults work against the embedded stack (``tracer-stream stack up``). Secrets are
:class:`pydantic.SecretStr` and print as ``**********``; :func:`masked_dump` renders any
settings object for logs without leaking them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracer_stream.errors import ConfigError
from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey, VerifyKeys

DEFAULT_KAFKA_PORT = 39092
DEFAULT_REDIS_PORT = 36379


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"TRACER_STREAM_{prefix}_", extra="ignore", env_nested_delimiter="__",
        use_attribute_docstrings=True,
    )


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster. ``extra`` passes librdkafka options through verbatim
    (``TRACER_STREAM_KAFKA_EXTRA='{"linger.ms": "5"}'``) and wins over everything else."""

    model_config = _config("KAFKA")

    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    """Comma-separated host:port list of Kafka brokers."""
    client_id: str = "tracer-stream"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How clients talk to the brokers."""
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    session_timeout_ms: int = 6000
    """Consumer-group session timeout (short for the dev broker; 45000 suits big clusters)."""
    heartbeat_interval_ms: int = 1000
    fetch_wait_max_ms: int = 50
    """Longest a fetch waits for data; bounds per-hop latency."""
    extra: dict[str, str] = Field(default_factory=dict)
    """librdkafka options as JSON, applied last (they win)."""

    def common_config(self) -> dict[str, Any]:
        """librdkafka options shared by producers, consumers and the admin client."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": _reveal(self.sasl_password),
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": _reveal(self.ssl_key_password),
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        return conf

    def producer_config(self) -> dict[str, Any]:
        """An idempotent, fully acknowledged producer (no loss, no broker-side duplicates)."""
        conf = self.common_config() | {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
        }
        return conf | self.extra

    def consumer_config(self, group_id: str) -> dict[str, Any]:
        """A consumer that commits only what the caller explicitly commits."""
        conf = self.common_config() | {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": self.heartbeat_interval_ms,
            "fetch.wait.max.ms": self.fetch_wait_max_ms,
            "partition.assignment.strategy": "cooperative-sticky",
        }
        return conf | self.extra


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


class TopicSettings(BaseSettings):
    """Topic names are ``prefix + name`` so that several deployments can share a cluster."""

    model_config = _config("TOPICS")

    prefix: str = "tracer."
    """Prepended to every topic name."""
    partitions: int = Field(default=4, ge=1)
    """Partitions per topic at creation (the most consumers a group can use)."""
    replication_factor: int = Field(default=1, ge=1)
    requests: str = "requests"
    labels: str = "labels"
    llm_requests: str = "llm-requests"
    traces: str = "traces"
    models: str = "models"
    dead_letter: str = "dead-letter"
    retention_ms: dict[str, int] = Field(default_factory=dict)

    def name(self, kind: str) -> str:
        """Full topic name for a kind (``"requests"``, ``"llm_requests"`` ...)."""
        return self.prefix + str(getattr(self, kind))

    def all_kinds(self) -> tuple[str, ...]:
        return ("requests", "labels", "llm_requests", "traces", "models", "dead_letter")

    def all_names(self) -> dict[str, str]:
        return {kind: self.name(kind) for kind in self.all_kinds()}


class RedisSettings(BaseSettings):
    """Redis connection. Put a password in the URL (``redis://:pw@host:6379/0``) or in
    ``password``; use ``rediss://`` for TLS."""

    model_config = _config("REDIS")

    url: SecretStr = SecretStr(f"redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0")
    """Redis URL (redis:// or rediss:// for TLS); treated as a secret."""
    password: SecretStr | None = None
    key_prefix: str = "tracer:"
    """Namespace of every Redis key of this deployment."""
    socket_timeout_s: float = 1.0
    ssl_ca_certs: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "socket_timeout": self.socket_timeout_s,
            "socket_connect_timeout": self.socket_timeout_s,
        }
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        if self.ssl_ca_certs:
            kwargs["ssl_ca_certs"] = self.ssl_ca_certs
        return kwargs


class LimitsSettings(BaseSettings):
    """Size limits applied to every incoming message."""

    model_config = _config("LIMITS")

    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    """Larger incoming messages are dead-lettered as too_large."""
    max_text_chars: int = Field(default=8192, ge=1)
    """Longer request texts are dead-lettered as text_too_long."""


class _ServiceSettings(BaseSettings):
    """What every service has: connections, limits, the HTTP endpoints for probes/metrics."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    http_host: str = "127.0.0.1"
    """Bind address of /healthz, /readyz, /metrics (set 0.0.0.0 in containers)."""
    http_port: int = Field(default=0, ge=0, le=65535)
    model_verify_keys: str = Field(
        default="",
        validation_alias=AliasChoices(VERIFY_KEYS_ENV, "model_verify_keys"),
        description="Ed25519 public keys (base64, comma-separated) whose model artefacts this "
                    "service accepts; several while keys rotate (docs/security.md)",
    )
    state_dir: Path = Field(
        default=Path(".tracer-stream"),
        validation_alias=AliasChoices("TRACER_STREAM_STATE_DIR", "state_dir"),
    )

    def verify_keys(self) -> VerifyKeys:
        """The trusted public keys; :class:`ConfigError` (one line naming the setting) when
        none is set. There is no built-in key."""
        keys = VerifyKeys.parse(self.model_verify_keys)
        if not keys.keys:
            raise ConfigError(f"{VERIFY_KEYS_ENV} is not set: give the public key(s) whose "
                              "models to accept (tracer-stream keys generate)")
        return keys


class RouterSettings(_ServiceSettings):
    model_config = _config("ROUTER")

    group_id: str = "tracer-router"
    batch_max_size: int = Field(default=64, ge=1)
    """Most requests routed in one micro-batch."""
    batch_max_wait_ms: int = Field(default=5, ge=0)
    """Longest wait to fill a micro-batch after its first request."""
    embedder: str = "minilm-onnx"
    """Embedder spec used when a task does not name its own."""
    embedding_cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=0)
    """Seconds a cached embedding lives in Redis (0 disables the cache)."""
    dedupe_ttl_s: int = Field(default=24 * 3600, ge=0)
    """Seconds an answered request_id is remembered to skip re-deliveries (0 disables)."""
    model_refresh_s: float = Field(default=5.0, gt=0)
    """Seconds between registry polls for new model versions and gate states (a fallback for
    missed announcements on the models topic)."""
    registry_max_staleness_s: float = Field(default=60.0, gt=0)
    """While Redis is down, last-known models keep serving for this long; then every request
    is deferred (reason registry_stale) because the gate state can no longer be confirmed."""
    audit_seed: int | None = None
    """Seed of the audit draws (unset: random)."""
    novelty_alarm_delta: float = Field(default=0.01, ge=0, lt=1)
    """Risk level of the novelty-rate watch: on traffic whose novel rate stays within the bound
    it ever alarms with probability at most this (0 disables the watch)."""
    novelty_alarm_rate_floor: float = Field(default=0.03, gt=0, lt=1)
    """Least novel rate the watch tolerates: the bound is max(novelty_alarm_rate_factor ·
    (1 − q), this), q the model's novelty quantile."""
    novelty_alarm_rate_factor: float = Field(default=3.0, ge=1)
    """Multiple of the calibrated novel rate 1 − q that the watch tolerates."""
    http_port: int = 8081


class WorkerSettings(_ServiceSettings):
    model_config = _config("WORKER")

    group_id: str = "tracer-worker"
    batch_max_size: int = Field(default=32, ge=1)
    """Most LLM requests taken from the topic (and called concurrently) in one batch."""
    batch_max_wait_ms: int = Field(default=20, ge=0)
    """Longest wait to fill a batch after its first request."""
    task_refresh_s: float = Field(default=60.0, gt=0)
    """Seconds a task definition is cached before it is re-read from Redis."""
    backend: Literal["openai", "anthropic", "replay"] = "openai"
    """LLM protocol: OpenAI-compatible chat, Anthropic Messages, or the replay teacher."""
    base_url: str | None = None
    """API base URL, unset: the backend's public API (vLLM/Ollama: their OpenAI /v1 URL)."""
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    """LLM API key (never logged)."""
    max_output_tokens: int = Field(default=64, ge=1)
    """Answer length limit sent with each call (max_tokens)."""
    request_extra: dict[str, Any] = Field(default_factory=dict)
    """JSON merged into every request body (a null value removes a key)."""
    replay_file: Path | None = None
    """JSONL of {"text","label"} answered by the replay teacher."""
    replay_latency_ms: float = Field(default=0.0, ge=0)
    replay_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of replay calls that fail with a retryable error (injected)."""
    replay_seed: int | None = None
    """Seed of the replay teacher's error draws (unset: random)."""
    price_per_call_usd: float = Field(default=0.0, ge=0)
    price_per_1k_input_tokens_usd: float = Field(default=0.0, ge=0)
    price_per_1k_output_tokens_usd: float = Field(default=0.0, ge=0)
    max_concurrency: int = Field(default=16, ge=1)
    """LLM calls in flight at once per worker."""
    rate_limit_per_s: float = Field(default=0.0, ge=0, description="0 means unlimited")
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=20.0, gt=0)
    http_port: int = 8082

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None


class TrainerSettings(_ServiceSettings):
    model_config = _config("TRAINER")

    group_id: str = "tracer-trainer"
    embedder: str = "minilm-onnx"
    """Embedder spec used when a task does not name its own."""
    refit_interval_s: float = Field(default=3600.0, gt=0)
    """Seconds between scheduled refits."""
    refit_min_new_traces: int = Field(default=500, ge=1)
    """New traces that trigger a refit before the schedule."""
    alphas: tuple[float, ...] = (0.90, 0.95, 0.98)
    """Agreement targets on the certified frontier of each model."""
    calibration_fraction: float = Field(default=0.3, gt=0, lt=1)
    zoo: Literal["fast", "default", "full"] = "default"
    refit_check_interval_s: float = Field(default=5.0, gt=0)
    """Seconds between checks of the refit triggers (new traces, schedule, drift, requests)."""
    drift_cooldown_s: float = Field(default=300.0, ge=0)
    """Least seconds between a refit and one triggered by an alarm's calibration epoch (also
    the retry delay after a failed refit, and how often one detector's alarm is written to the
    registry history)."""
    drift_audit_rate: float = Field(default=0.25, ge=0, le=1)
    """Audit rate routers use (at least) for a task after a drift or monitor alarm, until a
    version calibrated after the alarm is promoted; 0 disables the boost."""
    drift_audit_ttl_s: float = Field(default=86400.0, gt=0)
    """Longest time an audit boost lasts when no such version is promoted."""
    router_alarm_close_gate: bool = True
    """Close a task's gate when a router raises an alarm (the novelty-rate watch) for its
    current version; off: the alarm only starts a calibration epoch and the audit boost."""
    http_port: int = 8083
    model_signing_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(SIGNING_KEY_ENV, "model_signing_key"),
        description="Ed25519 private key (base64 of the 32-byte seed) that signs the models "
                    "this trainer publishes; only the trainer holds it",
    )

    def signing_key(self) -> SigningKey:
        """The private key; :class:`ConfigError` (one line naming the setting) when unset."""
        if self.model_signing_key is None or not self.model_signing_key.get_secret_value():
            raise ConfigError(f"{SIGNING_KEY_ENV} is not set: the trainer signs the models it "
                              "publishes with it (tracer-stream keys generate)")
        return SigningKey.parse(self.model_signing_key.get_secret_value())

    def verify_keys(self) -> VerifyKeys:
        """The trusted public keys plus the trainer's own (it reads back what it signed)."""
        own = self.signing_key().public
        return VerifyKeys.parse(self.model_verify_keys).including([own])


def masked_dump(settings: BaseModel) -> dict[str, Any]:
    """The settings as a plain dict, secrets masked and credentials stripped from URLs."""
    return _mask(settings.model_dump())


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
