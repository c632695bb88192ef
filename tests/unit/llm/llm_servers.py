"""Real local HTTP servers that speak the OpenAI chat-completions or the Anthropic Messages
protocol, for the LLM unit tests and the worker integration tests.

Replies come from ``script`` (consumed in order) and then from ``responder`` (a function of
the request body). Every request is recorded, and the server tracks how many were in flight
at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Protocol = Literal["openai", "anthropic"]


@dataclass
class Reply:
    """One scripted answer: ``answer`` as the model's text on 200, or an error ``status``."""

    answer: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes | None = None
    input_tokens: int = 50
    output_tokens: int = 2


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def first_user_text(body: dict[str, Any]) -> str:
    """The initial prompt of a request (either protocol)."""
    return str(body["messages"][0]["content"])


def prompt_text(body: dict[str, Any]) -> str:
    """The text being classified, from the default task prompt (``...Text: X\\nLabel:``)."""
    prompt = first_user_text(body)
    return prompt.rsplit("Text: ", 1)[-1].rsplit("\nLabel:", 1)[0]


class FakeLLMServer:
    def __init__(self, protocol: Protocol = "openai",
                 responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.protocol = protocol
        self.responder = responder or (lambda _body: Reply("positive"))
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.protocol == "openai" else root

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.protocol == "openai" else "/v1/messages"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.script:
                return self.script.pop(0)
        return self.responder(recorded.body)

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def render(self, reply: Reply) -> bytes:
        if reply.body is not None:
            return reply.body
        if reply.status >= 400:
            error = {"message": f"error {reply.status}", "type": "test_error"}
            doc: dict[str, Any] = {"error": error}
            if self.protocol == "anthropic":
                doc["type"] = "error"
            return json.dumps(doc).encode()
        if self.protocol == "openai":
            return json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply.answer}}],
                "usage": {"prompt_tokens": reply.input_tokens,
                          "completion_tokens": reply.output_tokens,
                          "total_tokens": reply.input_tokens + reply.output_tokens},
            }).encode()
        return json.dumps({
            "id": "msg_test", "type": "message", "role": "assistant", "model": "test-model",
            "content": [{"type": "text", "text": reply.answer}], "stop_reason": "end_turn",
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }).encode()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out close their socket; that is expected here."""


def _handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != server.path:
                self._send(404, b'{"error": {"message": "not found"}}', {})
                return
            recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()},
                                json.loads(raw))
            reply = server.next_reply(recorded)
            try:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply.status, server.render(reply), reply.headers)
            except OSError:
                pass
            finally:
                server.done()

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output clean."""

    return Handler


@contextmanager
def running(protocol: Protocol = "openai",
            responder: Callable[[dict[str, Any]], Reply] | None = None
            ) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(protocol, responder).start()
    try:
        yield server
    finally:
        server.stop()
