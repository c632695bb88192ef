"""Strict parsing of an LLM answer into a task's label space.

An answer is accepted only when it equals a label after normalisation: surrounding
whitespace, quotes, backticks and ``*`` (Markdown emphasis) are stripped, trailing
punctuation (``.,;:!?``) is dropped, inner whitespace is collapsed and case is folded.
Anything else ("The label is refund", "refund or cancel") is rejected, and the caller asks
once more with :func:`corrective_prompt`.

>>> parse_label('  "Refund." ', ["refund", "cancel_order"])
'refund'
>>> parse_label("refund or cancel_order", ["refund", "cancel_order"]) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence

_WRAPPERS = "\"'`*“”‘’«»"
_TRAILING = ".,;:!?"
_MAX_ECHO_CHARS = 200


def normalise(answer: str) -> str:
    """The comparison form of an answer or a label."""
    text = " ".join(answer.split())
    previous = None
    while text != previous:
        previous = text
        text = text.strip().strip(_WRAPPERS).rstrip(_TRAILING)
    return text.casefold()


def parse_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label ``answer`` names, or ``None``. An exact match wins; otherwise the normalised
    answer must match exactly one normalised label (labels that collide after normalisation,
    such as ``"Yes"`` and ``"yes"``, only match exactly)."""
    stripped = answer.strip()
    if stripped in labels:
        return stripped
    key = normalise(answer)
    if not key:
        return None
    matches = [label for label in labels if normalise(label) == key]
    return matches[0] if len(matches) == 1 else None


def corrective_prompt(answer: str, labels: Sequence[str]) -> str:
    """The follow-up message sent after an answer outside the label space."""
    echo = answer.strip()
    if len(echo) > _MAX_ECHO_CHARS:
        echo = echo[:_MAX_ECHO_CHARS] + "…"
    allowed = "\n".join(f"- {label}" for label in labels)
    return (f"Your answer {echo!r} is not one of the allowed labels. Reply with exactly one "
            f"of these labels and nothing else:\n{allowed}")


__all__ = ["corrective_prompt", "normalise", "parse_label"]
