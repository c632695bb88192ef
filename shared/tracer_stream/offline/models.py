"""Model files: signed artefacts written and read with a key taken from the environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tracer_stream.config.settings import DEV_SIGNING_KEY
from tracer_stream.errors import ArtefactAuthError, ConfigError
from tracer_stream.learn import Artefact

from .progress import Feedback
from .traces import file_error

__all__ = ["DEFAULT_KEY_ENV", "load_model", "save_model", "signing_key"]

DEFAULT_KEY_ENV = "TRACER_STREAM_MODEL_SIGNING_KEY"


def signing_key(env_var: str | None, feedback: Feedback) -> bytes:
    """The key in ``$env_var``; without ``env_var``, ``$TRACER_STREAM_MODEL_SIGNING_KEY`` or
    (with a warning) the services' insecure development key."""
    name = env_var or DEFAULT_KEY_ENV
    value = os.environ.get(name, "")
    if value:
        return value.encode()
    if env_var is not None:
        raise ConfigError(f"--signing-key-env {name}: the environment variable is not set or "
                          "empty")
    feedback.note(f"warning: ${DEFAULT_KEY_ENV} is not set; using the insecure development "
                  "signing key (fine on your laptop, not for models you deploy)")
    return DEV_SIGNING_KEY.encode()


def save_model(art: Artefact, path: Path, key: bytes) -> int:
    """Write the signed artefact atomically; returns its size in bytes."""
    blob = art.to_bytes(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(blob)


def load_model(path: Path, key: bytes, key_env: str | None) -> Artefact:
    """Read and verify a model file; a bad signature names the variable that held the key."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise file_error(path, f"cannot read the model ({exc.strerror})") from None
    try:
        return Artefact.from_bytes(blob, key)
    except ArtefactAuthError as exc:
        raise file_error(
            path, f"{exc.message}. The file was modified, or signed with another key than the "
            f"one in ${key_env or DEFAULT_KEY_ENV}; pass --signing-key-env VAR to name the "
            "variable holding the right key", kind=ArtefactAuthError) from None
