"""A real local HTTP server (127.0.0.1, ephemeral port) that speaks the OpenAI
``/v1/embeddings`` protocol, for the HTTP embedder tests.

Vectors come from a :class:`HashEmbedder`, scaled by 3 (so the client's normalisation is
visible) and returned in reversed ``index`` order (so the client must sort). ``script`` holds
status codes to answer first (e.g. ``[429, 503]``); ``delay_s`` slows every answer down.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tracer_stream.embed.hashing import HashEmbedder


class EmbeddingServer:
    def __init__(self, dim: int = 16, api_key: str | None = None) -> None:
        self.backend = HashEmbedder(dim=dim)
        self.api_key = api_key
        self.script: list[int] = []
        self.retry_after: str | None = None
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def answer(self, auth: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self.auth_headers.append(auth)
            status = self.script.pop(0) if self.script else 200
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return 401, {"error": {"message": "bad key"}}
        if status != 200:
            return status, {"error": {"message": f"scripted {status}"}}
        vectors = self.backend.embed(body["input"]) * 3.0
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()}
                for i, v in enumerate(vectors)]
        return 200, {"object": "list", "model": body["model"], "data": data[::-1]}


def _handler(server: EmbeddingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/embeddings":
                self._send(404, {"error": {"message": "not found"}})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, payload = server.answer(self.headers.get("Authorization"), body)
            self._send(status, payload)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429 and server.retry_after is not None:
                self.send_header("Retry-After", server.retry_after)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client timed out
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(dim: int = 16, api_key: str | None = None) -> Iterator[EmbeddingServer]:
    srv = EmbeddingServer(dim=dim, api_key=api_key)
    srv._thread.start()
    try:
        yield srv
    finally:
        srv._server.shutdown()
        srv._server.server_close()
