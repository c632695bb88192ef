"""The trainer generation: a fencing token that keeps a stale refit from promoting.

Every trainer process takes a new generation at start (``INCR P trainer:generation``) and
hands it to each refit it runs. A refit promotes only while its generation is still the
newest: the check and the write of ``current`` are one Redis transaction
(:meth:`tracer_stream.registry.Registry.set_current` with ``fence``, WATCH/MULTI), so a refit
subprocess that outlived a killed trainer — or a trainer that a newer one replaced — cannot make
its candidate current. It may still store the candidate as a version (harmless: only
``current`` serves).
"""

from __future__ import annotations

import redis


class Generation:
    """The generation counter of one deployment (``prefix`` = the Redis key prefix)."""

    def __init__(self, client: redis.Redis, prefix: str = "tracer:") -> None:
        self.client = client
        self.key = f"{prefix}trainer:generation"

    def take(self) -> int:
        """A new generation, newer than every one taken before."""
        return int(self.client.incr(self.key))

    def current(self) -> int:
        return int(self.client.get(self.key) or 0)

    def fence(self, generation: int) -> tuple[str, int]:
        """The ``fence`` argument of ``Registry.set_current`` for ``generation``."""
        return self.key, generation
