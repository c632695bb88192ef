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
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tracer_stream.config.secrets import install_redaction, mask_secrets
from tracer_stream.errors import ConfigError

if TYPE_CHECKING:
    import redis

from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey, VerifyKeys

DEFAULT_KAFKA_PORT = 39092
DEFAULT_REDIS_PORT = 36379


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"TRACER_STREAM_{prefix}_", extra="ignore", env_nested_delimiter="__",
        use_attribute_docstrings=True, hide_input_in_errors=True,  # a bad value may be a secret
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
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "gzip"
    """Codec of every batch the services produce. Every consumer of the topics must read it:
    gzip (the default) is built into every Kafka client (kafka-python, aiokafka, librdkafka,
    Java); snappy, lz4 and zstd need optional libraries in some clients (stock kafka-python
    raises UnsupportedCodecError without them)."""
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
        """An idempotent, fully acknowledged producer (no loss, no broker-side duplicates).
        A message for a topic the cluster does not know fails after 5 s (librdkafka waits 30 s
        by default, as long as a service waits for a whole batch)."""
        conf = self.common_config() | {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": self.compression,
            "topic.metadata.propagation.max.ms": 5000,
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
    retention_ms: dict[str, int] = Field(default_factory=lambda: {"replies": 3_600_000})
    """Retention per topic kind (JSON); replies are kept one hour by default."""
    reply_prefixes: Annotated[tuple[str, ...], NoDecode] = ("tracer.replies.",)
    """Comma-separated prefixes of the reply topics the router and worker may answer on
    (allow-list); a request naming any other reply_topic is dead-lettered."""
    replies: str = "tracer.replies.default"
    """This application's shared reply topic (full name, not prefixed; must start with a
    reply prefix), created by ``tracer-stream topics create`` and used by the client SDK."""

    @field_validator("reply_prefixes", mode="before")
    @classmethod
    def _split_prefixes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @model_validator(mode="after")
    def _reply_topic_is_allowed(self) -> TopicSettings:
        if any(not p for p in self.reply_prefixes):
            raise ValueError("reply_prefixes must not contain an empty prefix")
        if not self.replies.startswith(tuple(self.reply_prefixes)):
            raise ValueError(f"the reply topic {self.replies!r} does not start with one of "
                             f"the reply prefixes {list(self.reply_prefixes)}")
        return self

    def name(self, kind: str) -> str:
        """Full topic name for a kind (``"requests"``, ``"llm_requests"`` ...); the reply
        topic ``"replies"`` is named in full."""
        if kind == "replies":
            return self.replies
        return self.prefix + str(getattr(self, kind))

    def all_kinds(self) -> tuple[str, ...]:
        return ("requests", "labels", "llm_requests", "traces", "models", "dead_letter",
                "replies")

    def all_names(self) -> dict[str, str]:
        return {kind: self.name(kind) for kind in self.all_kinds()}


class RedisSettings(BaseSettings):
    """Redis connection. Give the password (and the ACL user) in ``password`` / ``username``
    rather than in the URL; TLS with ``ssl`` (or a ``rediss://`` URL) and the CA / client
    certificate files. :meth:`client` is the one way every process connects.

    >>> RedisSettings(url=SecretStr("redis://h:6379/0"), ssl=True).effective_url()
    'rediss://h:6379/0'
    """

    model_config = _config("REDIS")

    url: SecretStr = SecretStr(f"redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0")
    """Redis URL (redis:// or rediss:// for TLS); treated as a secret."""
    username: str | None = None
    """ACL user (Redis 6+); unset: the default user."""
    password: SecretStr | None = None
    """Password of the ACL user (or requirepass); a password inside the URL wins."""
    key_prefix: str = "tracer:"
    """Namespace of every Redis key of this deployment."""
    socket_timeout_s: float = Field(default=1.0, gt=0)
    """Bound of every connect and every reply wait (a paused Redis fails a call after this)."""
    connect_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a call whose connection failed (refused, reset), with exponential backoff;
    a timed-out call is never retried, since it may have been applied (an INCR twice)."""
    retry_backoff_s: float = Field(default=0.05, ge=0)
    """First backoff of those retries, doubling up to :attr:`retry_backoff_max_s`."""
    retry_backoff_max_s: float = Field(default=0.5, ge=0)
    ssl: bool = False
    """Connect with TLS (same as a rediss:// URL)."""
    ssl_ca_certs: str | None = None
    """CA bundle that verifies the server certificate (unset: the system CAs)."""
    ssl_certfile: str | None = None
    """Client certificate for mutual TLS."""
    ssl_keyfile: str | None = None
    """Private key of the client certificate."""

    @property
    def tls(self) -> bool:
        return self.ssl or self.url.get_secret_value().startswith("rediss://")

    def effective_url(self) -> str:
        """The URL with its scheme switched to rediss:// when ``ssl`` is on."""
        url = self.url.get_secret_value()
        parts = urlsplit(url)
        if self.ssl and parts.scheme == "redis":
            return urlunsplit(parts._replace(scheme="rediss"))
        return url

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`redis.Redis.from_url` besides the URL: the socket
        timeouts and redis-py's own retry policy (see :attr:`connect_retries`)."""
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.retry import Retry

        backoff = ExponentialBackoff(cap=self.retry_backoff_max_s, base=self.retry_backoff_s)
        kwargs: dict[str, Any] = {
            "socket_timeout": self.socket_timeout_s,
            "socket_connect_timeout": self.socket_timeout_s,
            "retry": Retry(backoff, self.connect_retries,
                           supported_errors=(RedisConnectionError,)),
        }
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        if self.tls:
            kwargs |= {"ssl_cert_reqs": "required", "ssl_ca_certs": self.ssl_ca_certs,
                       "ssl_certfile": self.ssl_certfile, "ssl_keyfile": self.ssl_keyfile}
        elif self.ssl_ca_certs or self.ssl_certfile or self.ssl_keyfile:
            raise ConfigError("TRACER_STREAM_REDIS_SSL_* files are set but TLS is off; set "
                              "TRACER_STREAM_REDIS_SSL=true or use a rediss:// URL")
        return kwargs

    def client(self) -> redis.Redis:
        """A Redis client with the URL, the credentials and the TLS settings applied."""
        import redis

        return redis.Redis.from_url(self.effective_url(), **self.client_kwargs())


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
    max_pending: int = Field(default=0, ge=0)
    """Most requests taken from the topic and not yet answered (calls in flight plus requests
    waiting for a call slot); above it the partitions are paused. 0: twice max_concurrency."""
    give_up_after_s: float = Field(default=300.0, gt=0)
    """A request without a label after this long (retries included) is dead-lettered
    (llm_failure, cause gave_up) and its call cancelled."""
    drain_timeout_s: float = Field(default=15.0, ge=0)
    """On SIGTERM, how long calls in flight may finish; the rest are cancelled and left
    uncommitted (redelivered)."""
    outcome_ttl_s: int = Field(default=24 * 3600, ge=0)
    """Seconds an answered request_id is remembered so that a redelivery is not answered
    again (0 disables)."""
    task_refresh_s: float = Field(default=2.0, gt=0)
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
    max_concurrency: int = Field(default=64, ge=1)
    """LLM calls in flight at once per worker process (the HTTP pool has as many connections)."""
    max_concurrency_per_task: int = Field(default=0, ge=0)
    """LLM calls in flight at once for one task (0: max_concurrency)."""
    rate_limit_per_s: float = Field(default=0.0, ge=0, description="0 means unlimited")
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=20.0, gt=0)
    http_port: int = 8082

    @property
    def pending_bound(self) -> int:
        """``max_pending``, or twice ``max_concurrency`` when unset (never below it)."""
        return max(self.max_pending or 2 * self.max_concurrency, self.max_concurrency)

    @property
    def task_concurrency(self) -> int:
        """``max_concurrency_per_task``, or ``max_concurrency`` when unset."""
        return min(self.max_concurrency_per_task or self.max_concurrency, self.max_concurrency)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None


class TrainerSettings(_ServiceSettings):
    model_config = _config("TRAINER")

    group_id: str = "tracer-trainer"
    refit_interval_s: float = Field(default=3600.0, gt=0)
    """Seconds between scheduled refits."""
    refit_min_new_traces: int = Field(default=500, ge=1)
    """New traces that trigger a refit before the schedule."""
    refit_window_traces: int = Field(default=0, ge=0)
    """A refit trains and calibrates on the last N traces of the task only (0: all of them);
    bounds what a refit reads (see "sizing" in docs/trainer.md)."""
    refit_label_cap: int = Field(default=0, ge=0)
    """At most N training traces per label in a refit, a sample by id (0: no cap); never
    applied to calibration traces (see "sizing" in docs/trainer.md)."""
    refit_calibration_reservoir: int = Field(default=0, ge=0)
    """At most N calibration traces in a refit, a uniform sample by id whatever the labels
    (0: all). Fewer rows widen the bound; below the gate's n_min no test can pass."""
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
    suspicion_audit_cap: float = Field(default=1.0, ge=0, le=1)
    """Highest audit rate the live monitor's suspicion boost sets for a task (ρ × evidence³,
    rounded down to a power of two, up to this cap; 1: every handled request while the evidence
    is strong); 0 disables the suspicion boost."""
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
    """The settings as a plain dict: secrets, credentials inside URLs and secret-looking
    entries of free-form maps (``kafka.extra``, ``request_extra`` headers) masked."""
    return mask_secrets(settings.model_dump())


def redact_environment_secrets() -> None:
    """Register every secret the environment gives any service for redaction from this
    process's logs and errors (groups whose settings do not validate are skipped: their own
    error names the setting, never its value)."""
    from pydantic import ValidationError

    for group in (RouterSettings, WorkerSettings, TrainerSettings):
        try:
            install_redaction(group())
        except (ValidationError, ConfigError):
            continue
