"""Probe and metrics endpoints every service exposes: ``/healthz`` (the main loop is ticking),
``/readyz`` (the service can do useful work) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


class Heartbeat:
    """The main loop calls :meth:`beat` every iteration; it is healthy while beats are fresh."""

    def __init__(self, max_silence_s: float = 30.0) -> None:
        self.max_silence_s = max_silence_s
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self._last <= self.max_silence_s


class ServiceHTTP:
    """A small threaded HTTP server; binds to loopback unless told otherwise."""

    def __init__(self, host: str, port: int, *, healthy: Callable[[], bool],
                 ready: Callable[[], bool], registry: CollectorRegistry = REGISTRY) -> None:
        handler = _handler(healthy, ready, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="service-http")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> ServiceHTTP:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(healthy: Callable[[], bool], ready: Callable[[], bool],
             registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path in ("/healthz", "/readyz"):
                ok = (healthy if self.path == "/healthz" else ready)()
                self._send(200 if ok else 503, b"ok\n" if ok else b"not ok\n", "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes are frequent; do not log each one."""

    return Handler
