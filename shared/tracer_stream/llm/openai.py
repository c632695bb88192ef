"""OpenAI-compatible chat completions through the official ``openai`` SDK: OpenAI, vLLM,
Ollama, LiteLLM, TGI, llama.cpp server (any of them by ``base_url``, e.g.
``http://localhost:11434/v1``).

The answer is constrained with ``response_format`` = a strict JSON schema whose ``label`` is
an enum of the task's labels. Servers without structured output can be asked for plain text
by ``request_extra = {"response_format": null}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import ClassVar, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from tracer_stream.llm.prompt import (
    SCHEMA_NAME,
    AnswerFormat,
    answer_from_json,
    label_schema,
    system_message,
    user_message,
)
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _Client(BackoffHook, openai.AsyncOpenAI):
    """``AsyncOpenAI`` whose retry waits follow our :class:`Backoff`."""


class OpenAIBackend(SdkBackend[_Client]):
    """One chat completion per logical call, temperature 0, structured output."""

    provider = "openai"
    sdk: ClassVar[ModuleType] = openai
    structured_option = "response_format"

    def make_client(self, settings: ClientSettings) -> _Client:
        return sdk_client(_Client, {"httpx": openai.DefaultAsyncHttpxClient,
                                    "aiohttp": openai.DefaultAioHttpClient},
                          settings, settings.base_url or DEFAULT_BASE_URL)

    async def classify(self, prompt: LabelPrompt,
                       followup: Sequence[ChatTurn] = ()) -> Completion:
        answer: AnswerFormat = "json_schema" if self.structured else "text"
        messages = [
            {"role": "system", "content": system_message(prompt.instructions, prompt.labels,
                                                         answer)},
            {"role": "user", "content": user_message(prompt.text)},
        ]
        for turn in followup:
            messages.append({"role": turn.role, "content": turn.content})
        schema = {"name": SCHEMA_NAME, "strict": True, "schema": label_schema(prompt.labels)}
        # Everything but the model and the messages goes through extra_body so that
        # request_extra can override or (with null) remove any of it.
        options = merge_body({"temperature": 0, "max_tokens": self.max_output_tokens,
                              "response_format": {"type": "json_schema",
                                                  "json_schema": schema}}, self.extra)
        with self.calling() as waits:
            response = await self.client.chat.completions.create(
                model=self.model, extra_body=options,
                messages=cast("list[ChatCompletionMessageParam]", messages))
        try:
            message = response.choices[0].message
            raw = message.content or (f"refusal: {message.refusal}" if message.refusal
                                      else "")
            usage = response.usage
        except (AttributeError, IndexError, TypeError):
            raise bad_response(self.name, "no choices[0].message", len(waits)) from None
        return Completion(
            answer=answer_from_json(raw) if self.structured else raw, raw=raw,
            input_tokens=token_count(usage.prompt_tokens if usage else 0),
            output_tokens=token_count(usage.completion_tokens if usage else 0),
            retries=len(waits))


__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend"]
