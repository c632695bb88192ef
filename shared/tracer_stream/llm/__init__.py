"""The teacher LLM: backends (OpenAI-compatible, Anthropic, replay), strict answer parsing,
retries with backoff, rate limiting, bounded concurrency, token and cost accounting.

>>> import asyncio
>>> from tracer_stream.llm import ReplayBackend, Teacher
>>> teacher = Teacher(ReplayBackend({"I want my money back": "refund"}))
>>> answer = asyncio.run(teacher.label("Classify: I want my money back",
...                                    ["refund", "cancel"], text="I want my money back"))
>>> answer.label
'refund'
"""

from tracer_stream.llm.anthropic import AnthropicBackend
from tracer_stream.llm.errors import BackendError, TeacherError
from tracer_stream.llm.factory import build_backend, build_teacher
from tracer_stream.llm.openai import OpenAIBackend
from tracer_stream.llm.parse import corrective_prompt, normalise, parse_label
from tracer_stream.llm.ratelimit import TokenBucket
from tracer_stream.llm.replay import ReplayBackend, load_replay_file
from tracer_stream.llm.retry import RetryPolicy, parse_retry_after
from tracer_stream.llm.teacher import Teacher
from tracer_stream.llm.types import Answer, Backend, ChatTurn, Completion, Pricing, Usage

__all__ = [
    "Answer",
    "AnthropicBackend",
    "Backend",
    "BackendError",
    "ChatTurn",
    "Completion",
    "OpenAIBackend",
    "Pricing",
    "ReplayBackend",
    "RetryPolicy",
    "Teacher",
    "TeacherError",
    "TokenBucket",
    "Usage",
    "build_backend",
    "build_teacher",
    "corrective_prompt",
    "load_replay_file",
    "normalise",
    "parse_label",
    "parse_retry_after",
]
