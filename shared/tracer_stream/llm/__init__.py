"""The teacher LLM: backends on the official SDKs (OpenAI-compatible, Anthropic) and a
replay backend, prompts as data with structured output, strict answer parsing, token and cost
accounting.

>>> import asyncio
>>> from tracer_stream.llm import ReplayBackend, Teacher
>>> teacher = Teacher(ReplayBackend({"I want my money back": "refund"}))
>>> answer = asyncio.run(teacher.label("Classify customer messages.",
...                                    ["refund", "cancel"], text="I want my money back"))
>>> answer.label
'refund'

``OpenAIBackend`` and ``AnthropicBackend`` are imported on first use (each imports its SDK).
"""

from typing import TYPE_CHECKING, Any

from tracer_stream.llm.errors import REASONS, BackendError, TeacherError
from tracer_stream.llm.factory import build_backend, build_teacher, client_settings
from tracer_stream.llm.parse import normalise, parse_label
from tracer_stream.llm.prompt import corrective_prompt, system_message, user_message
from tracer_stream.llm.replay import ReplayBackend, load_replay_file
from tracer_stream.llm.sdk import Backoff, ClientSettings
from tracer_stream.llm.teacher import Teacher
from tracer_stream.llm.types import (
    Answer,
    Backend,
    ChatTurn,
    Completion,
    LabelPrompt,
    Pricing,
    Usage,
)

if TYPE_CHECKING:
    from tracer_stream.llm.anthropic import AnthropicBackend
    from tracer_stream.llm.openai import OpenAIBackend

_LAZY = {"AnthropicBackend": "tracer_stream.llm.anthropic",
         "OpenAIBackend": "tracer_stream.llm.openai"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REASONS",
    "Answer",
    "AnthropicBackend",
    "Backend",
    "BackendError",
    "Backoff",
    "ChatTurn",
    "ClientSettings",
    "Completion",
    "LabelPrompt",
    "OpenAIBackend",
    "Pricing",
    "ReplayBackend",
    "Teacher",
    "TeacherError",
    "Usage",
    "build_backend",
    "build_teacher",
    "client_settings",
    "corrective_prompt",
    "load_replay_file",
    "normalise",
    "parse_label",
    "system_message",
    "user_message",
]
