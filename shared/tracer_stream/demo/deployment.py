"""A complete local deployment for the demo: the embedded stack (broker + Redis) on loopback
ports and the router, the LLM worker (replay teacher) and the trainer as real subprocesses,
all under one run directory, all stopped by :meth:`Deployment.down`.

The services are configured only through their ``TRACER_STREAM_*`` environment variables,
exactly as in a real deployment; the caller's own ``TRACER_STREAM_*`` variables are not passed
on, so that a demo never talks to a production cluster or LLM by accident.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tracer_stream.config import TopicSettings
from tracer_stream.demo.processes import ProcessRef, ServiceProcess
from tracer_stream.errors import TracerStreamError
from tracer_stream.registry import Registry
from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey
from tracer_stream.stack import EmbeddedStack, free_port

__all__ = ["DemoError", "Deployment", "ServiceOptions"]

SERVICES = ("router", "worker", "trainer")
NEVER_S = str(10**9)  # "never" for the trainer's automatic refit triggers
DRIFT_COOLDOWN_S = 8.0
"""Least seconds between two trainer refits when an alarm's epoch asks for one: a simulated
day lasts 10-40 s here, where the service default (300 s) would wait past the day's end."""


class DemoError(TracerStreamError):
    """The demo could not start or drive its deployment."""


@dataclass(frozen=True)
class ServiceOptions:
    """What the demo sets on its services."""

    replay_file: Path
    latency_ms: float = 20.0
    price_per_call_usd: float = 0.002
    zoo: str = "default"
    seed: int = 0


class Deployment:
    """Stack + services under ``run_dir``; ports 0 mean "any free port"."""

    def __init__(self, run_dir: Path, options: ServiceOptions, *, kafka_port: int = 0,
                 redis_port: int = 0, topic_prefix: str = "demo.") -> None:
        self.run_dir = Path(run_dir).absolute()
        self.options = options
        self.topics = TopicSettings(prefix=topic_prefix)
        self.stack = EmbeddedStack(self.run_dir / "stack", kafka_port or free_port(),
                                   redis_port or free_port(), self.topics)
        self.ports = {name: free_port() for name in SERVICES}
        self.services: dict[str, ServiceProcess] = {}
        self._registry: Registry | None = None
        self._model_key = SigningKey.generate()  # a throw-away key pair for this run only

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.from_settings(self.stack.redis)
        return self._registry

    def env(self, service: str) -> dict[str, str]:
        """The environment of one service process."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("TRACER_STREAM_")}
        opts = self.options
        env = {**base, **self.stack.env(), "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
               "TRACER_STREAM_STATE_DIR": str(self.run_dir),
               VERIFY_KEYS_ENV: self._model_key.public_b64,
               f"TRACER_STREAM_{service.upper()}_HTTP_PORT": str(self.ports[service])}
        if service == "router":
            env |= {"TRACER_STREAM_ROUTER_AUDIT_SEED": str(opts.seed),
                    "TRACER_STREAM_ROUTER_MODEL_REFRESH_S": "1.0"}
        elif service == "worker":
            env |= {"TRACER_STREAM_WORKER_BACKEND": "replay",
                    "TRACER_STREAM_WORKER_REPLAY_FILE": str(opts.replay_file),
                    "TRACER_STREAM_WORKER_REPLAY_LATENCY_MS": str(opts.latency_ms),
                    "TRACER_STREAM_WORKER_REPLAY_SEED": str(opts.seed),
                    "TRACER_STREAM_WORKER_PRICE_PER_CALL_USD": str(opts.price_per_call_usd)}
        else:  # the demo asks for the daily refits itself; alarms refit within a day
            env |= {SIGNING_KEY_ENV: self._model_key.seed_b64,
                    "TRACER_STREAM_TRAINER_REFIT_MIN_NEW_TRACES": NEVER_S,
                    "TRACER_STREAM_TRAINER_REFIT_INTERVAL_S": NEVER_S,
                    "TRACER_STREAM_TRAINER_REFIT_CHECK_INTERVAL_S": "0.5",
                    "TRACER_STREAM_TRAINER_DRIFT_COOLDOWN_S": str(DRIFT_COOLDOWN_S),
                    "TRACER_STREAM_TRAINER_ZOO": opts.zoo}
        return env

    def up(self, timeout_s: float = 120.0, status: Callable[[str], None] = print,
           stop: threading.Event | None = None) -> None:
        """Start the stack and the services; return once every service reports ready.
        Raises ``KeyboardInterrupt`` when ``stop`` is set meanwhile."""
        status(f"starting the broker on :{self.stack.kafka_port} and Redis on "
               f":{self.stack.redis_port}")
        self.stack.up()
        for name in SERVICES:
            status(f"starting the {name}")
            service = ServiceProcess(name, [name], self.env(name),
                                     self.run_dir / "logs" / f"{name}.log")
            self.services[name] = service
            service.start()
        deadline = time.monotonic() + timeout_s
        waiting = list(SERVICES)
        while waiting:
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            self.check()
            waiting = [name for name in waiting if not self._ready(name)]
            if waiting and time.monotonic() > deadline:
                raise DemoError(f"{', '.join(waiting)} not ready after {timeout_s:.0f}s; "
                                f"see {self.run_dir / 'logs'}")
            if waiting:
                status(f"waiting for {', '.join(waiting)} to be ready")
                time.sleep(0.3)

    def _ready(self, name: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[name]}/readyz",
                             timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def check(self) -> None:
        """Raise :class:`DemoError` (with its log's tail) when a service has exited."""
        for name, service in self.services.items():
            if not service.alive():
                code = service.proc.returncode if service.proc else None
                raise DemoError(f"the {name} exited (code {code}); last lines of "
                                f"{service.log}:\n{service.log_tail()}")
            service.remember_tree()

    def metrics(self, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The service's Prometheus samples, ``(name, sorted labels) → value`` ({} if down)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=2.0).text
        except httpx.HTTPError:
            return {}
        return {(s.name, tuple(sorted(s.labels.items()))): float(s.value)
                for family in text_string_to_metric_families(text) for s in family.samples}

    def down(self) -> list[ProcessRef]:
        """Stop the services (router first, trainer last), then the stack. Returns every
        process that survived (none, normally)."""
        left: list[ProcessRef] = []
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        for name in SERVICES:
            if name in self.services:
                left += self.services[name].stop()
        self.stack.down()
        return left
