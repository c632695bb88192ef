"""Stable assignment of traces to the calibration partition, by a hash of their id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ..errors import LearnError


def calibration_partition(
    ids: Sequence[str], fraction: float = 0.3, salt: str = "tracer-stream"
) -> np.ndarray:
    """True for the ids that belong to the calibration partition, fixed forever.

    Each id is hashed once (BLAKE2b, 8-byte digest, keyed by ``salt``) to a number in [0, 1);
    ids below ``fraction`` calibrate. The assignment never depends on the other ids, so a
    trace that calibrated one certificate is never trained on by a later refit.

    >>> calibration_partition(["req-1", "req-2", "req-3", "req-4"]).tolist()
    [False, True, True, False]
    """
    if not 0.0 < fraction < 1.0:
        raise LearnError("calibration fraction must be in (0, 1)", fraction=fraction)
    key = salt.encode()[:64]
    cut = int(fraction * 2**64)
    out = np.empty(len(ids), dtype=bool)
    for i, trace_id in enumerate(ids):
        digest = hashlib.blake2b(str(trace_id).encode(), digest_size=8, key=key).digest()
        out[i] = int.from_bytes(digest, "big") < cut
    return out
