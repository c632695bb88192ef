"""Render the configuration reference (every environment variable, its type and default)."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from tracer_stream.config.settings import (
    KafkaSettings,
    LimitsSettings,
    RedisSettings,
    RouterSettings,
    TopicSettings,
    TrainerSettings,
    WorkerSettings,
)

GROUPS: tuple[type[BaseSettings], ...] = (
    KafkaSettings, TopicSettings, RedisSettings, LimitsSettings,
    RouterSettings, WorkerSettings, TrainerSettings,
)
_NESTED = {"kafka", "topics", "redis", "limits"}


def reference_markdown() -> str:
    """A Markdown table per settings group."""
    out = []
    for group in GROUPS:
        prefix = str(group.model_config.get("env_prefix", ""))
        out.append(f"### {group.__name__} (`{prefix}*`)\n")
        doc = (group.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        if doc:
            out.append(doc + "\n")
        out.append("| variable | type | default | description |\n|---|---|---|---|")
        for name, field in group.model_fields.items():
            if name in _NESTED:
                continue
            aliases = getattr(field.validation_alias, "choices", None)
            variable = aliases[0] if aliases else f"{prefix}{name.upper()}"
            default = field.get_default(call_default_factory=True)
            shown = "(secret)" if isinstance(default, SecretStr) else _show(default)
            kind = str(field.annotation).replace("typing.", "").replace("<class '", "").replace(
                "'>", "").replace("pydantic.types.", "").replace("|", "\\|")
            description = " ".join((field.description or "").split())
            out.append(f"| `{variable}` | {kind} | {shown} | {description} |")
        out.append("")
    return "\n".join(out)


def _show(value: object) -> str:
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, tuple):
        value = ",".join(str(v) for v in value)
    text = "" if value is None else str(value)
    return f"`{text}`" if text else ""
