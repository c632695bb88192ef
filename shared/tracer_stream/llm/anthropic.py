"""Anthropic Messages API: ``POST {base_url}/v1/messages`` with ``x-api-key`` and
``anthropic-version`` headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from tracer_stream.llm.http_base import HTTPBackend, bad_response, merge_body, token_count
from tracer_stream.llm.types import ChatTurn, Completion

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"


def messages_url(base_url: str | None) -> str:
    """``.../v1/messages`` whether or not the base URL already ends in ``/v1``."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


class AnthropicBackend(HTTPBackend):
    """One message per call, temperature 0, the answer from the text content blocks."""

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 30.0, max_output_tokens: int = 64,
                 extra: Mapping[str, Any] | None = None, max_connections: int = 16,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        super().__init__(url=messages_url(base_url), headers=headers, secret=api_key,
                         timeout_s=timeout_s, max_connections=max_connections,
                         transport=transport)
        self.name = f"anthropic:{model}"
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.extra = dict(extra or {})

    async def classify(self, prompt: str, *, labels: Sequence[str], text: str | None = None,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        messages = [{"role": "user", "content": prompt}]
        messages += [{"role": turn.role, "content": turn.content} for turn in followup]
        body = merge_body({"model": self.model, "messages": messages, "temperature": 0,
                           "max_tokens": self.max_output_tokens}, self.extra)
        data = await self.post_json(body)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise bad_response(self.url, "no content list")
        answer = "".join(str(b.get("text", "")) for b in blocks
                         if isinstance(b, dict) and b.get("type") == "text")
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return Completion(
            text=answer,
            input_tokens=token_count(usage.get("input_tokens")),
            output_tokens=token_count(usage.get("output_tokens")),
            raw=data,
        )


__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "AnthropicBackend", "messages_url"]
