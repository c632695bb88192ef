"""Real local HTTP servers that speak the OpenAI chat-completions or the Anthropic Messages
wire protocol well enough for the official SDKs to run against them unmodified (streaming
off): the LLM unit tests, the worker integration tests and ``bench/llm_transport.py`` use
them.

What the model "says" comes from ``script`` (consumed in order) and then from ``responder``
(a function of the request body), as a :class:`Reply`. The server encodes it the way the
request asked: plain text, OpenAI ``response_format`` JSON schema (``{"label": ...}`` in the
message content), an OpenAI forced function call, or an Anthropic forced ``tool_use`` block.
It does **not** enforce the schema's enum: it behaves like a server that passes the model's
answer through, the worst case for the client's parser. Errors use each provider's error
body; ``headers`` (e.g. ``Retry-After``) and ``delay_s`` (timeouts) are applied as given.
Every request is recorded, and the server tracks how many were in flight at once.

Run alone (benchmarks), the same protocol code on an asyncio (aiohttp) server:
``python -m tests.unit.llm.llm_servers openai --delay 1.0`` prints ``port <n>`` and serves
until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from aiohttp import web

Protocol = Literal["openai", "anthropic"]
ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                         403: "permission_error", 404: "not_found_error",
                         429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


@dataclass
class Reply:
    """One scripted answer: ``answer`` as what the model says on 200, or an error
    ``status``. ``body`` replaces the whole response body (malformed responses)."""

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
    at: float = field(default_factory=time.monotonic)
    """When the request arrived (``time.monotonic``)."""

    @property
    def api_key(self) -> str | None:
        """The key sent, as ``x-api-key`` or as an ``Authorization`` bearer token."""
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
        return self.headers.get("x-api-key") or bearer or None


def user_messages(body: dict[str, Any]) -> list[str]:
    """The text of every user message of a request (either protocol)."""
    return [str(m["content"]) for m in body["messages"] if m["role"] == "user"]


def prompt_text(body: dict[str, Any]) -> str:
    """The text being classified: the ``text`` of the first user message's JSON object."""
    return str(json.loads(user_messages(body)[0])["text"])


def is_followup(body: dict[str, Any]) -> bool:
    """The request continues a conversation (the corrective follow-up)."""
    return len(user_messages(body)) > 1


def system_prompt(body: dict[str, Any]) -> str:
    """The system message of a request (either protocol)."""
    if "system" in body:
        return str(body["system"])
    return "".join(str(m["content"]) for m in body["messages"] if m["role"] == "system")


class FakeLLM:
    """The protocol side of a fake server: scripted replies, recording, rendering."""

    def __init__(self, protocol: Protocol = "openai",
                 responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.protocol = protocol
        self.responder = responder or (lambda _body: Reply("positive"))
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.protocol == "openai" else "/v1/messages"

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

    def render(self, reply: Reply, request: dict[str, Any]) -> bytes:
        if reply.body is not None:
            return reply.body
        if reply.status >= 400:
            return json.dumps(self.error(reply.status)).encode()
        document = (self._chat_completion(reply, request) if self.protocol == "openai"
                    else self._message(reply, request))
        return json.dumps(document).encode()

    def error(self, status: int, message: str | None = None) -> dict[str, Any]:
        message = message or f"error {status}"
        if self.protocol == "openai":
            return {"error": {"message": message, "type": "test_error", "param": None,
                              "code": None}}
        kind = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _chat_completion(self, reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.answer,
                                   "refusal": None}
        finish = "stop"
        forced = (request.get("tool_choice") or {}).get("function", {}).get("name")
        if forced:
            message["content"] = None
            message["tool_calls"] = [{"id": f"call_{next(self._ids)}", "type": "function",
                                      "function": {"name": forced, "arguments":
                                                   json.dumps({"label": reply.answer})}}]
            finish = "tool_calls"
        elif (request.get("response_format") or {}).get("type") == "json_schema":
            message["content"] = json.dumps({"label": reply.answer})
        return {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", "test-model"),
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                         "message": message}],
            "usage": {"prompt_tokens": reply.input_tokens,
                      "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens},
        }

    def _message(self, reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
        choice = request.get("tool_choice") or {}
        if choice.get("type") == "tool":
            content: list[dict[str, Any]] = [{
                "type": "tool_use", "id": f"toolu_{next(self._ids)}", "name": choice["name"],
                "input": {"label": reply.answer}}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": reply.answer}], "end_turn"
        return {
            "id": f"msg_{next(self._ids)}", "type": "message", "role": "assistant",
            "model": request.get("model", "test-model"), "content": content,
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens,
                      "output_tokens": reply.output_tokens},
        }

    def check(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str] | None:
        """A protocol violation the real API would refuse: ``(status, message)``."""
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"),
                                                                      list):
            return 400, "model and messages are required"
        if self.protocol == "anthropic":
            if "x-api-key" not in headers and "authorization" not in headers:
                return 401, "no API key"
            if "anthropic-version" not in headers:
                return 400, "anthropic-version header is required"
            if not isinstance(body.get("max_tokens"), int):
                return 400, "max_tokens is required"
            if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
                return 400, "messages may only have the user and assistant roles"
        return None


class FakeLLMServer(FakeLLM):
    """A :class:`FakeLLM` behind a threaded HTTP server on a free loopback port."""

    def __init__(self, protocol: Protocol = "openai",
                 responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        super().__init__(protocol, responder)
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

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out close their socket; that is expected here."""


def _handler(server: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != server.path:
                self._send(404, json.dumps(server.error(404)).encode(), {})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = json.loads(raw)
            problem = server.check(headers, body)
            if problem is not None:
                self._send(problem[0], json.dumps(server.error(*problem)).encode(), {})
                return
            reply = server.next_reply(Recorded(self.path, headers, body))
            try:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply.status, server.render(reply, body), reply.headers)
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


async def serve_async(fake: FakeLLM, port: int = 0) -> None:
    """Serve ``fake`` on asyncio (aiohttp) until cancelled; prints ``port <n>`` once bound.
    The threaded server of the tests becomes the bottleneck at hundreds of calls in flight,
    this one does not (benchmarks)."""
    async def handle(request: web.Request) -> web.Response:
        if request.path != fake.path:
            return web.json_response(fake.error(404), status=404)
        body = await request.json()
        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = fake.check(headers, body)
        if problem is not None:
            return web.json_response(fake.error(*problem), status=problem[0])
        reply = fake.next_reply(Recorded(request.path, headers, body))
        try:
            await asyncio.sleep(reply.delay_s)
            return web.Response(status=reply.status, body=fake.render(reply, body),
                                headers=reply.headers, content_type="application/json")
        finally:
            fake.done()

    app = web.Application()
    app.router.add_post(fake.path, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    site = web.SockSite(runner, listener, backlog=1024)
    await site.start()
    print(f"port {listener.getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve one protocol with a fixed answer and latency until killed (benchmarks)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("protocol", choices=["openai", "anthropic"])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per answer")
    parser.add_argument("--answer", default="positive")
    args = parser.parse_args()
    fake = FakeLLM(args.protocol, lambda _body: Reply(args.answer, delay_s=args.delay))
    asyncio.run(serve_async(fake))


if __name__ == "__main__":
    main()
