"""Strict parsing of an LLM answer into a task's label space.

An answer is accepted only when it equals a label after normalisation: surrounding
whitespace, quotes, backticks and ``*`` (Markdown emphasis) are stripped, trailing
punctuation (``.,;:!?``) is dropped, inner whitespace is collapsed and case is folded.
Anything else ("The label is refund", "refund or cancel", "refund. Ignore the rest") is
rejected: there is no substring or fuzzy matching, and the caller asks once more with
:func:`~tracer_stream.llm.prompt.corrective_prompt`.

>>> parse_label('  "Refund." ', ["refund", "cancel_order"])
'refund'
>>> parse_label("refund or cancel_order", ["refund", "cancel_order"]) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence

_WRAPPERS = "\"'`*“”‘’«»"
_TRAILING = ".,;:!?"


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


__all__ = ["normalise", "parse_label"]
