"""Signed artefact blobs: round trip, and tampering detected before anything is parsed."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.errors import ArtefactAuthError
from tracer_stream.learn import Artefact

pytestmark = pytest.mark.unit

KEY = b"test-signing-key"


@pytest.fixture(scope="module")
def blob(artefact: Artefact) -> bytes:
    return artefact.to_bytes(KEY)


def test_round_trip_routes_identically(artefact: Artefact, blob: bytes, heldout):
    X, _ = heldout
    loaded = Artefact.from_bytes(blob, KEY)
    a, b = artefact.route(X), loaded.route(X)
    assert a.labels == b.labels and a.reasons == b.reasons
    np.testing.assert_array_equal(a.accepted, b.accepted)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    assert loaded.manifest == artefact.manifest
    for alpha in artefact.frontier:
        assert loaded.route(X[:50], alpha).labels == artefact.route(X[:50], alpha).labels


@pytest.mark.parametrize("position", [0, 20, 60, -1, -5000])
def test_flipped_byte_is_rejected(blob: bytes, position: int):
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(bytes(tampered), KEY)


def test_wrong_missing_or_truncated_is_rejected(blob: bytes):
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(blob, b"another-key")
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(blob, b"")
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(blob[:40], KEY)
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(b"PK\x03\x04" + blob[4:], KEY)


def test_verification_happens_before_parsing(blob: bytes, monkeypatch):
    import tracer_stream.learn.serialize as ser

    def boom(*args, **kwargs):
        raise AssertionError("payload parsed before the signature was checked")

    monkeypatch.setattr(ser.np, "load", boom)
    tampered = blob[:-1] + bytes([blob[-1] ^ 0xFF])
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(tampered, KEY)
