"""Forged model artefacts for the trust-boundary tests: blobs with a *valid* signature whose
payload would run code if the loader ever unpickled it (the attack of issue 11: anyone who can
write the registry or the models topic, holding a leaked or built-in key)."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np

from tracer_stream.learn import Artefact
from tracer_stream.learn.serialize import HEADER_LEN, MAGIC
from tracer_stream.signing import SigningKey


class WritesMarker:
    """Unpickling this object runs ``os.mkdir(path)``: the classic pickle exploit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.path),))


def signed(payload: bytes, key: SigningKey) -> bytes:
    """A blob around an arbitrary payload, signed with ``key`` exactly as the trainer signs."""
    return MAGIC + key.key_id + key.sign(MAGIC + key.key_id + payload) + payload


def npz(**arrays: np.ndarray) -> bytes:
    """An ``.npz`` archive that may hold pickled object arrays."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=True, **arrays)
    return buf.getvalue()


def json_array(obj: object) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def pickled_tree_member(artefact: Artefact, key: SigningKey, marker: Path) -> bytes:
    """``artefact`` with its first member replaced by a "random forest" stored the way v1 stored
    trees (a pickle inside a byte array), the pickle being :class:`WritesMarker`."""
    good = dict(np.load(io.BytesIO(artefact.to_bytes(key)[HEADER_LEN:])))
    state = json.loads(good["state.json"].tobytes())
    state["members"][0]["meta"] = {"kind": "random_forest", "seed": 0,
                                   "params": {"n_estimators": 1}}
    arrays = {k: v for k, v in good.items() if not k.startswith("m0/model/")}
    arrays["m0/model/classes"] = np.arange(len(artefact.labels))
    arrays["m0/model/pickle"] = np.frombuffer(pickle.dumps(WritesMarker(marker)),
                                              dtype=np.uint8)
    arrays["state.json"] = json_array(state)
    return signed(npz(**arrays), key)


def object_array(key: SigningKey, marker: Path) -> bytes:
    """A payload whose JSON parts are pickled object arrays holding :class:`WritesMarker`."""
    evil = np.empty(1, dtype=object)
    evil[0] = WritesMarker(marker)
    return signed(npz(**{"state.json": evil, "manifest.json": evil}), key)
