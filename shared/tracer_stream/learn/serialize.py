"""Signed artefact blobs: ``MAGIC | HMAC-SHA256(key, payload) | payload``.

The payload is an ``.npz`` archive (loaded with ``allow_pickle=False``) of numeric arrays plus
two JSON documents (state and manifest) stored as bytes. Linear models, MLPs, the river learner,
acceptors and the novelty index are pure numbers; only the opt-in tree ensembles carry a pickled
scikit-learn object, inside a byte array that is unpickled strictly after the signature verified.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from typing import Any

import numpy as np

from ..errors import ArtefactAuthError, LearnError
from .acceptor import Acceptor
from .artefact import Artefact, Member
from .config import EmbedderRef
from .novelty import CentroidIndex
from .policy import policy_from_dict
from .zoo import load_member

MAGIC = b"TSARTv1\n"
_SIG_LEN = hashlib.sha256().digest_size


def dumps(art: Artefact, signing_key: bytes) -> bytes:
    """Serialise and sign ``art`` with ``signing_key``."""
    if not signing_key:
        raise LearnError("an artefact needs a non-empty signing key")
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
    return MAGIC + hmac.new(signing_key, payload, hashlib.sha256).digest() + payload


def loads(blob: bytes, signing_key: bytes) -> Artefact:
    """Verify the signature of ``blob``, then rebuild the artefact.

    Raises :class:`ArtefactAuthError` (before reading any of the payload) when the blob is not
    an artefact, is truncated, or its signature does not match ``signing_key``.
    """
    if not signing_key:
        raise ArtefactAuthError("no signing key given; refusing to load an artefact")
    if len(blob) < len(MAGIC) + _SIG_LEN or not blob.startswith(MAGIC):
        raise ArtefactAuthError("not a signed tracer-stream artefact")
    signature = blob[len(MAGIC):len(MAGIC) + _SIG_LEN]
    payload = blob[len(MAGIC) + _SIG_LEN:]
    expected = hmac.new(signing_key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise ArtefactAuthError("artefact signature does not verify; not loaded")
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
