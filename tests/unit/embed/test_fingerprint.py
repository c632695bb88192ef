"""The numerics fingerprint: recorded vectors are reproduced, moved vectors are caught."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tracer_stream.embed.fingerprint import (
    REFERENCE_TEXTS,
    TOLERANCE,
    numerics_fingerprint,
    numerics_mismatch,
)
from tracer_stream.embed.hashing import HashEmbedder

pytestmark = pytest.mark.unit


def test_the_same_embedder_reproduces_its_fingerprint() -> None:
    recorded = numerics_fingerprint(HashEmbedder(dim=64))
    assert recorded["texts"] == list(REFERENCE_TEXTS) and recorded["min_cosine"] == TOLERANCE
    assert len(recorded["vectors"]) == len(REFERENCE_TEXTS)
    assert numerics_mismatch(HashEmbedder(dim=64), recorded) is None
    assert numerics_mismatch(HashEmbedder(dim=64), None) is None  # nothing recorded


def test_vectors_that_moved_beyond_the_tolerance_are_caught() -> None:
    recorded = numerics_fingerprint(HashEmbedder(dim=64))
    moved = copy.deepcopy(recorded)
    rng = np.random.default_rng(0)
    v = np.asarray(moved["vectors"][0])
    moved["vectors"][0] = (v + 0.05 * rng.standard_normal(v.size)).tolist()  # cosine ~0.93
    reason = numerics_mismatch(HashEmbedder(dim=64), moved)
    assert reason is not None and reason.startswith("reference vectors moved: min cosine")
    tiny = copy.deepcopy(recorded)
    tiny["vectors"][0] = (v * (1 + 1e-7)).tolist()  # rounding-level change: still the same
    assert numerics_mismatch(HashEmbedder(dim=64), tiny) is None


def test_a_different_width_or_a_malformed_record_is_a_mismatch() -> None:
    recorded = numerics_fingerprint(HashEmbedder(dim=64))
    assert "dimensions" in str(numerics_mismatch(HashEmbedder(dim=32), recorded))
    assert numerics_mismatch(HashEmbedder(dim=64), {"texts": ["a"]}) == \
        "the recorded embedder fingerprint is malformed"
