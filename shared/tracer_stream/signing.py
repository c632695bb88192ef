"""Ed25519 keys that sign and verify model artefacts.

The trainer and the offline ``fit`` hold a :class:`SigningKey` (the private 32-byte seed,
base64, in ``TRACER_STREAM_MODEL_SIGNING_KEY``); routers, workers and the trainer hold
:class:`VerifyKeys` (public keys, base64, comma-separated in ``TRACER_STREAM_MODEL_VERIFY_KEYS``).
A public key cannot mint a model, so a compromised router cannot publish one. Several verify
keys can be trusted at once, which is how keys rotate (``docs/security.md``).

>>> key = SigningKey.generate()
>>> keys = VerifyKeys.parse(key.public_b64)
>>> keys.verify(key.key_id, key.sign(b"payload"), b"payload")
>>> keys.verify(key.key_id, key.sign(b"payload"), b"tampered")
Traceback (most recent call last):
...
tracer_stream.errors.ArtefactAuthError: artefact signature does not verify; not loaded
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tracer_stream.errors import ArtefactAuthError, ConfigError

SIGNING_KEY_ENV = "TRACER_STREAM_MODEL_SIGNING_KEY"
VERIFY_KEYS_ENV = "TRACER_STREAM_MODEL_VERIFY_KEYS"
KEY_ID_LEN = 8
SIGNATURE_LEN = 64


def key_id(public: Ed25519PublicKey) -> bytes:
    """First 8 bytes of the SHA-256 of the raw public key: names the key in a blob."""
    return hashlib.sha256(_raw_public(public)).digest()[:KEY_ID_LEN]


class SigningKey:
    """A private Ed25519 key (never printed: ``repr`` shows only the key id)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str, setting: str = SIGNING_KEY_ENV) -> SigningKey:
        """From base64 of the 32-byte seed; :class:`ConfigError` naming ``setting`` else."""
        seed = _b64_32(text, setting, "a private key (base64 of the 32-byte Ed25519 seed)")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def seed_b64(self) -> str:
        """The private seed, base64 (only for ``tracer-stream keys generate``)."""
        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(_raw_public(self.public)).decode()

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id.hex()})"


@dataclass(frozen=True)
class VerifyKeys:
    """The public keys a service trusts, by key id."""

    keys: tuple[Ed25519PublicKey, ...]

    @classmethod
    def parse(cls, text: str, setting: str = VERIFY_KEYS_ENV) -> VerifyKeys:
        """From comma-separated base64 public keys; :class:`ConfigError` naming ``setting``."""
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return cls(tuple(Ed25519PublicKey.from_public_bytes(
            _b64_32(p, setting, "a public key (base64 of 32 raw Ed25519 bytes)")) for p in parts))

    def including(self, extra: Iterable[Ed25519PublicKey]) -> VerifyKeys:
        """These keys plus ``extra`` (the trainer trusts its own public key)."""
        known = {key_id(k) for k in self.keys}
        return VerifyKeys(self.keys + tuple(k for k in extra if key_id(k) not in known))

    @property
    def ids(self) -> list[str]:
        return [key_id(k).hex() for k in self.keys]

    def verify(self, signer: bytes, signature: bytes, data: bytes) -> None:
        """Raise :class:`ArtefactAuthError` unless a trusted key ``signer`` signed ``data``."""
        for key in self.keys:
            if key_id(key) == signer:
                try:
                    key.verify(signature, data)
                except InvalidSignature:
                    break
                return
        else:
            raise ArtefactAuthError(
                f"artefact signed by key {signer.hex()}, which is not among the trusted keys "
                f"({VERIFY_KEYS_ENV}: {', '.join(self.ids) or 'none'}); not loaded")
        raise ArtefactAuthError("artefact signature does not verify; not loaded")


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64_32(text: str, setting: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{setting} must be {what}; generate one with "
                          "`tracer-stream keys generate`")
    return raw
