"""The embedders a router needs, loaded once per spec and shared by every task that names it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tracer_stream.embed import Embedder, load_embedder

log = logging.getLogger(__name__)


class EmbedderPool:
    """``spec → Embedder``, loaded on first use; a spec that failed is retried after a pause.

    ``default_spec`` stands in for tasks that do not name an embedder of their own.
    """

    def __init__(self, default_spec: str, *, loader: Callable[[str], Embedder] = load_embedder,
                 retry_after_s: float = 30.0) -> None:
        self.default_spec = default_spec
        self._loader = loader
        self._retry_after_s = retry_after_s
        self._loaded: dict[str, Embedder] = {}
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, spec: str | None) -> Embedder | None:
        """The embedder for ``spec``, or ``None`` if it cannot be loaded (logged)."""
        spec = spec or self.default_spec
        embedder = self._loaded.get(spec)
        if embedder is not None:
            return embedder
        with self._lock:
            if spec in self._loaded:
                return self._loaded[spec]
            failed = self._failed_at.get(spec)
            if failed is not None and time.monotonic() - failed < self._retry_after_s:
                return None
            try:
                embedder = self._loader(spec)
            except Exception as exc:  # any loader failure means "defer", never a crash
                log.error("cannot load embedder %r: %s", spec, exc)
                self._failed_at[spec] = time.monotonic()
                return None
            log.info("embedder %r loaded: %s", spec, embedder.identity.id)
            self._loaded[spec] = embedder
            self._failed_at.pop(spec, None)
            return embedder
