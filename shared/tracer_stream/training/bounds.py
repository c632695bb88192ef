"""Bounds on what a refit embeds, holds and fits ("Sizing" in ``docs/trainer.md``).

* **Per-label cap** (``label_cap`` = C): a label with more than C training rows keeps C of
  them. Training rows only: the fit sees a flatter label mix, which may change coverage but
  never the certificate's validity, since the certificate is computed on calibration rows alone.
* **Calibration reservoir** (``reservoir`` = R): more than R calibration rows keep R of them, a
  uniform sample whatever their labels. Capping calibration per label would change its label mix
  against live traffic, and the certificate would hold for the reweighted mix, not for the
  traffic the router serves; a uniform subsample of an exchangeable sample stays exchangeable.

Both keep the rows with the smallest keyed hash of their ``request_id`` (bottom-k: BLAKE2b keyed
by ``salt``, another key than the calibration partition's). The choice looks at ids only, never
at texts, embeddings or model outputs; it is deterministic for a salt, and a trace kept by one
refit is kept by the next as long as fewer rows with smaller keys joined.

>>> labels = ["a"] * 6 + ["b"] * 2 + ["a"] * 4
>>> ids = [f"req-{i}" for i in range(12)]
>>> calibration = np.array([False] * 8 + [True] * 4)
>>> kept = bound_rows(np.arange(12), calibration, labels, ids, label_cap=3, reservoir=2)
>>> [labels[i] for i in kept if not calibration[i]], int(calibration[kept].sum())
(['a', 'a', 'a', 'b', 'b'], 2)
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

__all__ = ["SALT", "bound_rows", "sample_keys"]

SALT = "tracer-stream-refit-sample"
"""The hash key of the refit's samples (the calibration partition uses another)."""


def sample_keys(ids: Sequence[str], salt: str = SALT) -> np.ndarray:
    """A uniform 64-bit key per id (BLAKE2b, 8-byte digest, keyed by ``salt``)."""
    key = salt.encode()[:64]
    return np.fromiter((int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8,
                                                       key=key).digest(), "big") for i in ids),
                       dtype=np.uint64, count=len(ids))


def bound_rows(rows: np.ndarray, calibration: np.ndarray, labels: Sequence[str],
               request_ids: Sequence[str], *, label_cap: int = 0, reservoir: int = 0,
               salt: str = SALT) -> np.ndarray:
    """The subset of ``rows`` (indices into ``labels`` and ``request_ids``, ascending) a refit
    keeps, ascending. ``calibration[j]`` tells whether ``rows[j]`` calibrates. ``label_cap``:
    at most this many training rows per label; ``reservoir``: at most this many calibration
    rows, whatever their labels (0: no bound)."""
    rows = np.asarray(rows)
    calibration = np.asarray(calibration, dtype=bool)
    if label_cap < 0 or reservoir < 0:
        raise ValueError("label_cap and reservoir must be >= 0 (0: no bound)")
    if not label_cap and not reservoir:
        return rows
    keep = np.ones(len(rows), dtype=bool)
    keys = sample_keys([request_ids[i] for i in rows], salt)
    groups: list[np.ndarray] = []
    if reservoir:
        groups.append(_over(np.flatnonzero(calibration), keys, reservoir))
    if label_cap:
        by_label: dict[str, list[int]] = defaultdict(list)
        for j in np.flatnonzero(~calibration):
            by_label[labels[rows[j]]].append(int(j))
        groups.extend(_over(np.array(js), keys, label_cap) for js in by_label.values())
    for dropped in groups:
        keep[dropped] = False
    return rows[keep]


def _over(members: np.ndarray, keys: np.ndarray, size: int) -> np.ndarray:
    """The members beyond the ``size`` with the smallest keys (none when there are few)."""
    if len(members) <= size:
        return members[:0]
    return members[np.argsort(keys[members], kind="stable")[size:]]
