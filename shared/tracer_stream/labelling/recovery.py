"""Who a record was for, when the record itself cannot be read.

A request that is too large, not valid JSON as a whole, or breaks its schema still deserves a
dead letter its client can match: :func:`identify` reads the record's top-level members one by
one from the start and keeps ``request_id`` and ``task`` when they are readable strings,
stopping at the first member it cannot read (a record cut short, an invalid value).

>>> identify(b'{"request_id": "r-7", "task": "intents", "text": "cut sho')
Identity(request_id='r-7', task='intents')
>>> identify(b'{"metadata": {"request_id": "nested"}, "task": 5}')
Identity(request_id=None, task=None)
>>> identify(b"\\xff not json")
Identity(request_id=None, task=None)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_SCAN_BYTES = 1024 * 1024
"""Only this much of a record is read for its identity."""
_MAX_ID_CHARS = 256
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Identity:
    """The request id and task of a record, each None when unreadable."""

    request_id: str | None = None
    task: str | None = None


def identify(raw: bytes | None) -> Identity:
    """``request_id`` and ``task`` from the readable prefix of a JSON object (see the module
    docstring); members nested deeper than the top level are never taken."""
    if not raw:
        return Identity()
    text = raw[:MAX_SCAN_BYTES].decode("utf-8", errors="ignore")
    found: dict[str, str] = {}
    for key, value in _members(text):
        if (key in ("request_id", "task") and key not in found and isinstance(value, str)
                and 0 < len(value) <= _MAX_ID_CHARS):
            found[key] = value
        if len(found) == 2:
            break
    return Identity(found.get("request_id"), found.get("task"))


def _members(text: str) -> list[tuple[str, Any]]:
    """The top-level ``(key, value)`` pairs readable from the start of ``text``."""
    members: list[tuple[str, Any]] = []
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return members
    pos += 1
    try:
        while True:
            pos = _skip(text, pos)
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if not isinstance(key, str) or not text.startswith(":", pos):
                return members
            value, pos = _DECODER.raw_decode(text, _skip(text, pos + 1))
            members.append((key, value))
            pos = _skip(text, pos)
            if not text.startswith(",", pos):
                return members
            pos += 1
    except ValueError:
        return members


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


__all__ = ["MAX_SCAN_BYTES", "Identity", "identify"]
