"""Anthropic Messages through the official ``anthropic`` SDK.

The answer is constrained with a forced tool call (``tool_choice`` names the tool) whose
input schema has ``label`` as an enum of the task's labels. ``request_extra =
{"tools": null, "tool_choice": null}`` asks for plain text instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import ModuleType
from typing import ClassVar, cast

import anthropic
from anthropic.types import ContentBlock, MessageParam

from tracer_stream.llm.prompt import TOOL_NAME, label_schema, system_message, user_message
from tracer_stream.llm.sdk import (
    BackoffHook,
    ClientSettings,
    SdkBackend,
    bad_response,
    merge_body,
    sdk_client,
    token_count,
)
from tracer_stream.llm.types import ChatTurn, Completion, LabelPrompt

DEFAULT_BASE_URL = "https://api.anthropic.com"


def sdk_base_url(base_url: str | None) -> str:
    """The SDK appends ``/v1/messages`` itself; a configured URL may end in ``/v1`` or not.

    >>> sdk_base_url("http://proxy:8080/v1/"), sdk_base_url(None)
    ('http://proxy:8080', 'https://api.anthropic.com')
    """
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    return base.removesuffix("/v1")


class _Client(BackoffHook, anthropic.AsyncAnthropic):
    """``AsyncAnthropic`` whose retry waits follow our :class:`Backoff`."""


class AnthropicBackend(SdkBackend[_Client]):
    """One message per logical call, temperature 0, the label from a forced tool call."""

    provider = "anthropic"
    sdk: ClassVar[ModuleType] = anthropic
    structured_option = "tools"

    def make_client(self, settings: ClientSettings) -> _Client:
        return sdk_client(_Client, {"httpx": anthropic.DefaultAsyncHttpxClient,
                                    "aiohttp": anthropic.DefaultAioHttpClient},
                          settings, sdk_base_url(settings.base_url))

    async def classify(self, prompt: LabelPrompt,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        system = system_message(prompt.instructions, prompt.labels,
                                "tool" if self.structured else "text")
        messages = [{"role": "user", "content": user_message(prompt.text)}]
        for turn in followup:
            messages.append({"role": turn.role, "content": turn.content})
        tool = {"name": TOOL_NAME, "description": "Record the label of the text.",
                "input_schema": label_schema(prompt.labels)}
        # Everything but the model, the messages and max_tokens goes through extra_body so
        # that request_extra can override or (with null) remove any of it.
        options = merge_body({"system": system, "temperature": 0, "tools": [tool],
                              "tool_choice": {"type": "tool", "name": TOOL_NAME}}, self.extra)
        with self.calling() as waits:
            response = await self.client.messages.create(
                model=self.model, max_tokens=self.max_output_tokens, extra_body=options,
                messages=cast("list[MessageParam]", messages))
        try:
            answer, raw = _answer(response.content)
            usage = response.usage
            input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
        except (AttributeError, TypeError):
            raise bad_response(self.name, "no content blocks", len(waits)) from None
        return Completion(answer=answer, raw=raw, input_tokens=token_count(input_tokens),
                          output_tokens=token_count(output_tokens), retries=len(waits))


def _answer(blocks: Sequence[ContentBlock]) -> tuple[str, str]:
    """``(label candidate, raw output)``: the forced tool call's ``label``, or the text."""
    text = ""
    for block in blocks:
        if block.type == "tool_use" and block.name == TOOL_NAME:
            raw = json.dumps(block.input, ensure_ascii=False)
            label = block.input.get("label") if isinstance(block.input, dict) else None
            return (label if isinstance(label, str) else raw), raw
        if block.type == "text":
            text += block.text
    return text, text


__all__ = ["DEFAULT_BASE_URL", "AnthropicBackend", "sdk_base_url"]
