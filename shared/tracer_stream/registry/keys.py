"""Redis keys that more than one service reads or writes, named in one place.

>>> seen_key("tracer:", "intents", "r-1")
'tracer:seen:intents:r-1'
"""

from __future__ import annotations


def seen_key(prefix: str, task: str, request_id: str) -> str:
    """The router's dedupe mark of a request (``routing/dedupe.py``); the worker drops it when
    it dead-letters the request, so a retry with the same id is taken again."""
    return f"{prefix}seen:{task}:{request_id}"


__all__ = ["seen_key"]
