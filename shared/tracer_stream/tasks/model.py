"""A task is one classification problem served by the deployment: a name, its label space,
the prompt that asks the LLM, and the guarantee (α, δ) and audit rate ρ it runs with.

Task files are YAML or JSON, one task or a list of tasks::

    name: support-intents
    description: Route customer support messages.
    labels:
      - name: refund
        description: the customer wants money back
        examples: ["I want my money back"]
      - cancel_order
    alpha: 0.95
    delta: 0.05
    audit_rate: 0.02

The ``prompt_template`` renders the task's *instructions* only: the worker sends them in the
system message and the text to classify apart, in the user message, as untrusted data (see
:mod:`tracer_stream.llm.prompt`). Placeholders:

- ``{task}``: the task name; ``{description}``: the task description;
- ``{labels}`` (required): one line per label, ``- name: description (e.g. 'ex1'; 'ex2')``;
- ``{text}`` (accepted for templates stored before prompts were data): it is **not** replaced
  by the user's text but by :data:`TEXT_IN_USER_MESSAGE`, so an old template such as
  ``...Text: {text}\nLabel:`` keeps working and never inlines user text.

Literal braces are written ``{{`` and ``}}``; any other placeholder is rejected when the task is
loaded.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracer_stream.errors import ConfigError

DEFAULT_PROMPT = (
    "You are a precise text classifier for the task '{task}'. {description}\n"
    "Choose exactly one label from this list:\n{labels}"
)
PLACEHOLDERS = frozenset({"task", "description", "labels", "text"})
TEXT_IN_USER_MESSAGE = "(the text to classify is in the user message)"
"""What a legacy ``{text}`` placeholder renders as."""


class LabelSpec(BaseModel):
    """One label with an optional description and examples for the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    examples: tuple[str, ...] = ()


class Task(BaseModel):
    """A classification task (validated; unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    labels: tuple[LabelSpec, ...] = Field(min_length=2)
    prompt_template: str = DEFAULT_PROMPT
    alpha: float = Field(default=0.95, gt=0.5, lt=1.0)
    delta: float = Field(default=0.05, gt=0.0, lt=0.5)
    audit_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    embedder: str = "minilm-onnx"

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_from_strings(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> Task:
        names = [label.name for label in self.labels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate labels: {duplicates}")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(self.prompt_template)
                      if name is not None}
        except ValueError as exc:
            raise ValueError(f"prompt_template is not a valid template: {exc}") from None
        if "labels" not in fields:
            raise ValueError("prompt_template must contain {labels}")
        unknown = sorted(fields - PLACEHOLDERS)
        if unknown:
            raise ValueError(f"prompt_template has unknown placeholders {unknown}; allowed: "
                             f"{sorted(PLACEHOLDERS)}")
        return self

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def render_instructions(self) -> str:
        """The task's instructions for the system message: the template with the label list
        (descriptions and examples included); never any user text."""
        lines = []
        for label in self.labels:
            line = f"- {label.name}"
            if label.description:
                line += f": {label.description}"
            if label.examples:
                line += " (e.g. " + "; ".join(repr(e) for e in label.examples[:3]) + ")"
            lines.append(line)
        return self.prompt_template.format(
            task=self.name, description=self.description, labels="\n".join(lines),
            text=TEXT_IN_USER_MESSAGE)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Task:
        return cls.model_validate(orjson.loads(raw))


def load_task_file(path: Path) -> list[Task]:
    """Read one task or a list of tasks from a YAML/JSON file, with errors naming the file."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"task file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML/JSON: {exc}") from None
    items = document if isinstance(document, list) else [document]
    tasks = []
    for index, item in enumerate(items):
        try:
            tasks.append(Task.model_validate(item))
        except ValidationError as exc:
            where = f"{path} (task #{index + 1})" if len(items) > 1 else str(path)
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'task'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid task in {where}: {problems}") from None
    return tasks
