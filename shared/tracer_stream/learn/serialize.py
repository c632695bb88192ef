"""Signed artefact blobs: ``MAGIC | key id | Ed25519 signature | payload``.

The signature covers ``MAGIC | key id | payload``; the key id (8 bytes, see
:func:`~.signing.key_id`) names the public key that verifies it. The payload is an ``.npz``
archive (written and read with ``allow_pickle=False``) of numeric arrays plus two JSON documents
(state and manifest) stored as bytes. Every part is data: linear models, MLPs, the river
learner, the tree ensembles (their nodes as arrays), acceptors and the novelty index are numbers,
so even a validly signed blob cannot make the loader run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from ..errors import ArtefactAuthError, LearnError
from ..signing import KEY_ID_LEN, SIGNATURE_LEN, SigningKey, VerifyKeys
from .acceptor import Acceptor
from .artefact import Artefact, Member
from .config import EmbedderRef
from .novelty import CentroidIndex
from .policy import policy_from_dict
from .zoo import load_member

MAGIC = b"TSARTv2\n"
_OLD_MAGIC = b"TSARTv1\n"
HEADER_LEN = len(MAGIC) + KEY_ID_LEN + SIGNATURE_LEN


def dumps(art: Artefact, signing_key: SigningKey) -> bytes:
    """Serialise ``art`` and sign it with ``signing_key``."""
    if not isinstance(signing_key, SigningKey):
        raise LearnError("an artefact is signed with an Ed25519 SigningKey")
    arrays: dict[str, np.ndarray] = {}
    members: list[dict[str, Any]] = []
    for i, (name, member) in enumerate(art.members.items()):
        meta, model_arrays = member.model.get_state()
        members.append({"name": name, "meta": meta})
        arrays.update({f"m{i}/model/{k}": v for k, v in model_arrays.items()})
        arrays.update({f"m{i}/acceptor/{k}": v for k, v in member.acceptor.arrays().items()})
    arrays.update({f"index/{k}": v for k, v in art.index.arrays().items()})
    state = {
        "format": 1, "labels": art.labels, "members": members,
        "frontier": [p.to_dict() for p in art.frontier.values()],
        "target_alpha": art.target_alpha, "embedder": art.embedder.to_dict(),
        "novelty": art.novelty,
    }
    arrays["state.json"] = _json_bytes(state)
    arrays["manifest.json"] = _json_bytes(art._manifest)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    payload = buf.getvalue()
    signed = MAGIC + signing_key.key_id + payload
    return MAGIC + signing_key.key_id + signing_key.sign(signed) + payload


def loads(blob: bytes, verify_keys: VerifyKeys) -> Artefact:
    """Verify the signature of ``blob`` with a trusted key, then rebuild the artefact.

    Raises :class:`ArtefactAuthError` (before reading any of the payload) when the blob is not
    an artefact, is truncated, was signed by a key not in ``verify_keys``, or its signature does
    not verify.
    """
    if not verify_keys.keys:
        raise ArtefactAuthError("no verify key given; refusing to load an artefact")
    if blob.startswith(_OLD_MAGIC):
        raise ArtefactAuthError("artefact of format v1 (HMAC-signed) is no longer accepted; "
                                "refit it")
    if len(blob) < HEADER_LEN or not blob.startswith(MAGIC):
        raise ArtefactAuthError("not a signed tracer-stream artefact")
    signer = blob[len(MAGIC):len(MAGIC) + KEY_ID_LEN]
    signature = blob[len(MAGIC) + KEY_ID_LEN:HEADER_LEN]
    payload = blob[HEADER_LEN:]
    verify_keys.verify(signer, signature, MAGIC + signer + payload)
    try:
        return _rebuild(payload)
    except (ValueError, KeyError, TypeError, IndexError, OSError, zipfile.BadZipFile) as exc:
        raise LearnError(f"artefact payload is malformed ({type(exc).__name__}: {exc}); "
                         "not loaded") from None


def _rebuild(payload: bytes) -> Artefact:
    """The artefact from a verified payload (data only: ``allow_pickle=False``)."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    state = json.loads(arrays.pop("state.json").tobytes())
    manifest = json.loads(arrays.pop("manifest.json").tobytes())
    members = {}
    for i, entry in enumerate(state["members"]):
        model = load_member(entry["meta"], _prefixed(arrays, f"m{i}/model/"))
        acceptor = Acceptor.from_arrays(_prefixed(arrays, f"m{i}/acceptor/"))
        members[entry["name"]] = Member(model, acceptor)
    frontier = {float(p["alpha"]): policy_from_dict(p) for p in state["frontier"]}
    return Artefact(
        labels=state["labels"], members=members,
        index=CentroidIndex.from_arrays(_prefixed(arrays, "index/")), frontier=frontier,
        target_alpha=state["target_alpha"], embedder=EmbedderRef.from_dict(state["embedder"]),
        novelty=bool(state["novelty"]), manifest=manifest,
    )


def _json_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8)


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
