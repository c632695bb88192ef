"""An in-memory stand-in for the few redis-py commands the registry and the trainer state use,
so that unit tests exercise the real :class:`Registry` and :class:`TrainerState` without a
server. Values are stored as bytes, like redis-py returns them."""

from __future__ import annotations

from typing import Any


def _b(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class MemRedis:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    # strings
    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: Any, nx: bool = False, ex: int | None = None) -> bool:
        if nx and key in self.data:
            return False
        self.data[key] = _b(value)
        return True

    def getset(self, key: str, value: Any) -> bytes | None:
        old = self.data.get(key)
        self.data[key] = _b(value)
        return old

    def publish(self, channel: str, message: Any) -> int:
        """No subscribers in memory: the message reaches nobody (as in Redis)."""
        return 0

    def incr(self, key: str) -> int:
        value = int(self.data.get(key, b"0")) + 1
        self.data[key] = _b(value)
        return value

    def delete(self, *keys: str) -> int:
        return sum(self.data.pop(k, None) is not None for k in keys)

    def exists(self, key: str) -> int:
        return int(key in self.data)

    # hashes
    def hset(self, key: str, field: str | None = None, value: Any = None,
             mapping: dict[str, Any] | None = None) -> int:
        h = self.data.setdefault(key, {})
        items = dict(mapping or {})
        if field is not None:
            items[field] = value
        for f, v in items.items():
            h[_b(f)] = _b(v)
        return len(items)

    def hsetnx(self, key: str, field: str, value: Any) -> int:
        h = self.data.setdefault(key, {})
        if _b(field) in h:
            return 0
        h[_b(field)] = _b(value)
        return 1

    def hincrby(self, key: str, field: str, amount: int = 1) -> int:
        h = self.data.setdefault(key, {})
        value = int(h.get(_b(field), b"0")) + amount
        h[_b(field)] = _b(value)
        return value

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return dict(self.data.get(key, {}))

    def hdel(self, key: str, *fields: str) -> int:
        h = self.data.get(key, {})
        return sum(h.pop(_b(f), None) is not None for f in fields)

    # lists and sets
    def lpush(self, key: str, value: Any) -> int:
        self.data.setdefault(key, []).insert(0, _b(value))
        return len(self.data[key])

    def rpush(self, key: str, value: Any) -> int:
        self.data.setdefault(key, []).append(_b(value))
        return len(self.data[key])

    def lrange(self, key: str, start: int, end: int) -> list[bytes]:
        items = self.data.get(key, [])
        return list(items[start:] if end == -1 else items[start:end + 1])

    def sadd(self, key: str, value: Any) -> int:
        self.data.setdefault(key, set()).add(_b(value))
        return 1

    def smembers(self, key: str) -> set[bytes]:
        return set(self.data.get(key, set()))

    # pipelines run immediately
    def pipeline(self) -> MemRedis:
        return self

    def execute(self) -> list[Any]:
        return []

    def __enter__(self) -> MemRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        """Nothing to reset."""

    def close(self) -> None:
        """Nothing to release."""
