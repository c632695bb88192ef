"""Signed artefact blobs: round trip, tampering and foreign keys detected before anything is
parsed, and a validly signed blob whose payload would run code is refused without running it."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.forgery import WritesMarker, object_array, pickled_tree_member
from tracer_stream.errors import ArtefactAuthError, LearnError
from tracer_stream.learn import Artefact, SigningKey, VerifyKeys
from tracer_stream.learn.serialize import MAGIC

pytestmark = pytest.mark.unit

KEY = SigningKey.generate()
TRUSTED = VerifyKeys.parse(KEY.public_b64)


@pytest.fixture(scope="module")
def blob(artefact: Artefact) -> bytes:
    return artefact.to_bytes(KEY)


def test_round_trip_routes_identically(artefact: Artefact, blob: bytes, heldout):
    X, _ = heldout
    loaded = Artefact.from_bytes(blob, TRUSTED)
    a, b = artefact.route(X), loaded.route(X)
    assert a.labels == b.labels and a.reasons == b.reasons
    np.testing.assert_array_equal(a.accepted, b.accepted)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    assert loaded.manifest == artefact.manifest
    for alpha in artefact.frontier:
        assert loaded.route(X[:50], alpha).labels == artefact.route(X[:50], alpha).labels


def test_binding_is_part_of_the_signed_manifest(artefact: Artefact):
    bound = artefact.with_binding({"task": "intents", "labels_sha256": "x"})
    loaded = Artefact.from_bytes(bound.to_bytes(KEY), TRUSTED)
    assert loaded.manifest["binding"] == {"task": "intents", "labels_sha256": "x"}
    assert "binding" not in artefact.manifest  # with_binding made a copy


@pytest.mark.parametrize("position", [0, 10, 20, 60, 90, -1, -5000])
def test_flipped_byte_is_rejected(blob: bytes, position: int):
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(bytes(tampered), TRUSTED)


def test_foreign_missing_or_truncated_is_rejected(blob: bytes):
    other = SigningKey.generate()
    with pytest.raises(ArtefactAuthError, match="not among the trusted keys"):
        Artefact.from_bytes(blob, VerifyKeys.parse(other.public_b64))
    with pytest.raises(ArtefactAuthError, match="no verify key"):
        Artefact.from_bytes(blob, VerifyKeys(()))
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(blob[:40], TRUSTED)
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(b"PK\x03\x04" + blob[4:], TRUSTED)
    with pytest.raises(ArtefactAuthError, match="v1"):
        Artefact.from_bytes(b"TSARTv1\n" + blob[8:], TRUSTED)


def test_any_of_several_trusted_keys_verifies(blob: bytes):
    rotated = VerifyKeys.parse(f"{SigningKey.generate().public_b64}, {KEY.public_b64}")
    assert Artefact.from_bytes(blob, rotated).labels


def test_a_signature_by_another_key_under_our_key_id_is_rejected(artefact: Artefact,
                                                                 blob: bytes):
    forged = artefact.to_bytes(SigningKey.generate())
    header = len(MAGIC)
    relabelled = forged[:header] + KEY.key_id + forged[header + len(KEY.key_id):]
    with pytest.raises(ArtefactAuthError, match="does not verify"):
        Artefact.from_bytes(relabelled, TRUSTED)


def test_verification_happens_before_parsing(blob: bytes, monkeypatch):
    import tracer_stream.learn.serialize as ser

    def boom(*args, **kwargs):
        raise AssertionError("payload parsed before the signature was checked")

    monkeypatch.setattr(ser.np, "load", boom)
    tampered = blob[:-1] + bytes([blob[-1] ^ 0xFF])
    with pytest.raises(ArtefactAuthError):
        Artefact.from_bytes(tampered, TRUSTED)


def test_the_exploit_is_live(tmp_path: Path):
    """Control: the payload used below does run code when unpickled."""
    marker = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(WritesMarker(marker)))
    assert marker.exists()


def test_validly_signed_pickle_in_a_tree_member_is_refused_and_never_runs(
        artefact: Artefact, tmp_path: Path):
    """The v1 layout of a tree member (a pickled scikit-learn object in a byte array), signed
    with a trusted key: the loader reads trees as arrays only, so the pickle is never loaded."""
    marker = tmp_path / "pickle-ran"
    with pytest.raises((ArtefactAuthError, LearnError)):
        Artefact.from_bytes(pickled_tree_member(artefact, KEY, marker), TRUSTED)
    assert not marker.exists()


def test_validly_signed_object_array_is_refused_and_never_runs(tmp_path: Path):
    """An ``.npy`` object array is a pickle; ``allow_pickle=False`` refuses it unread."""
    marker = tmp_path / "object-array-ran"
    with pytest.raises((ArtefactAuthError, LearnError)):
        Artefact.from_bytes(object_array(KEY, marker), TRUSTED)
    assert not marker.exists()


def test_no_module_of_the_package_unpickles():
    """Nothing under shared/ or services/ may import pickle-style loaders."""
    root = Path(__file__).resolve().parents[3]
    offenders = []
    sources = [p for base in ("shared", "services") for p in (root / base).rglob("*.py")]
    assert len(sources) > 100
    for path in sources:
        text = path.read_text()
        for needle in ("import pickle", "import joblib", "import dill", "import cloudpickle",
                       "allow_pickle=True", "torch.load(", "import marshal"):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
