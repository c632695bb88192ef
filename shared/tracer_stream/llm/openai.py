"""OpenAI-compatible chat completions: OpenAI, vLLM, Ollama, LiteLLM, TGI, llama.cpp server.

``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>`` (omitted when no
key is configured, as local servers need none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from tracer_stream.llm.http_base import HTTPBackend, bad_response, merge_body, token_count
from tracer_stream.llm.types import ChatTurn, Completion

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIBackend(HTTPBackend):
    """One chat completion per call, temperature 0, the answer from the first choice."""

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 30.0, max_output_tokens: int = 64,
                 extra: Mapping[str, Any] | None = None, max_connections: int = 16,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/chat/completions"
        super().__init__(url=url, headers=headers, secret=api_key, timeout_s=timeout_s,
                         max_connections=max_connections, transport=transport)
        self.name = f"openai:{model}"
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
        try:
            content = data["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise bad_response(self.url, "no choices[0].message") from None
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return Completion(
            text=content if isinstance(content, str) else "",
            input_tokens=token_count(usage.get("prompt_tokens")),
            output_tokens=token_count(usage.get("completion_tokens")),
            raw=data,
        )


__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend"]
