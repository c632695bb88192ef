"""Embedder identity: what a model records so that it can refuse foreign embeddings.

:class:`EmbedderRef` (defined by the learning core, :mod:`tracer_stream.learn.config`, and
re-exported here) is the stable, serialisable identity of an embedder. Two embedders that can
produce different vectors for the same text must have different fingerprints: the fingerprint is
a digest of the model's weights, tokenizer and configuration plus every recipe parameter that
changes the numbers (export, quantisation, dimension reduction, hashing scheme).

>>> ref = EmbedderRef(name="hash", dim=64, normalized=True, fingerprint="ab" * 32)
>>> ref.id
'hash/64/abababababab'
>>> EmbedderRef.from_dict(ref.to_dict()) == ref
True
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tracer_stream.learn.config import EmbedderRef

__all__ = ["EmbedderRef", "digest_files", "digest_params"]

_CHUNK = 1 << 20


def digest_params(**params: Any) -> str:
    """SHA-256 of keyword parameters, order-independent (canonical JSON)."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def digest_files(paths: Iterable[Path | str]) -> str:
    """SHA-256 over the names and contents of files (memoised by path, size and mtime)."""
    outer = hashlib.sha256()
    for path in paths:
        p = Path(path)
        st = os.stat(p)
        outer.update(p.name.encode() + b"\0")
        outer.update(_file_sha256(str(p.resolve()), st.st_size, st.st_mtime_ns).encode())
    return outer.hexdigest()


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the memo key only
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
