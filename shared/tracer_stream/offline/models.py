"""Model files: artefacts signed with an Ed25519 private key and verified with public keys,
both taken from the environment (no built-in key)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tracer_stream.errors import ArtefactAuthError, ConfigError
from tracer_stream.learn import Artefact
from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey, VerifyKeys

from .traces import file_error

__all__ = ["load_model", "save_model", "signing_key", "verify_keys"]


def signing_key(env_var: str | None) -> SigningKey:
    """The private key in ``$env_var`` (default ``$TRACER_STREAM_MODEL_SIGNING_KEY``)."""
    name = env_var or SIGNING_KEY_ENV
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"${name} is not set: `fit` signs the model with this Ed25519 "
                          "private key (create one with `tracer-stream keys generate`)")
    return SigningKey.parse(value, setting=f"${name}")


def verify_keys(env_var: str | None) -> VerifyKeys:
    """The public keys in ``$env_var`` (default ``$TRACER_STREAM_MODEL_VERIFY_KEYS``, plus the
    public half of ``$TRACER_STREAM_MODEL_SIGNING_KEY`` when that is set)."""
    name = env_var or VERIFY_KEYS_ENV
    keys = VerifyKeys.parse(os.environ.get(name, ""), setting=f"${name}")
    if env_var is None and os.environ.get(SIGNING_KEY_ENV):
        keys = keys.including([signing_key(None).public])
    if not keys.keys:
        raise ConfigError(f"${name} is not set: give the public key(s) whose models to trust"
                          + ("" if env_var else f" (or set ${SIGNING_KEY_ENV})"))
    return keys


def save_model(art: Artefact, path: Path, key: SigningKey) -> int:
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


def load_model(path: Path, keys: VerifyKeys, key_env: str | None) -> Artefact:
    """Read and verify a model file; a bad signature names the variable that held the keys."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise file_error(path, f"cannot read the model ({exc.strerror})") from None
    try:
        return Artefact.from_bytes(blob, keys)
    except ArtefactAuthError as exc:
        raise file_error(
            path, f"{exc.message}. The file was modified, or signed with a key whose public "
            f"half is not in ${key_env or VERIFY_KEYS_ENV}; pass --verify-keys-env VAR to name "
            "the variable holding the right public keys", kind=ArtefactAuthError) from None
