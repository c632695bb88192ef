"""Synthetic traces for the learning-core tests: Gaussian label clusters in a small space."""

from __future__ import annotations

import numpy as np
import pytest

from tracer_stream.learn import EmbedderRef, FitConfig, fit

DIM = 24
REF = EmbedderRef(name="synthetic", dim=DIM, normalized=False, fingerprint="0123456789abcdef")


def make_traces(n: int, n_labels: int = 10, spread: float = 1.8, seed: int = 0):
    """(X, labels) with about 90% of labels recoverable at the default spread."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(size=(n_labels, DIM)) * 1.1
    y = rng.integers(0, n_labels, size=n)
    X = centres[y] + rng.normal(size=(n, DIM)) * spread
    return X.astype(np.float32), [f"label_{i:02d}" for i in y]


@pytest.fixture(scope="session")
def traces():
    return make_traces(4000)


@pytest.fixture(scope="session")
def heldout():
    return make_traces(1500, seed=99)


@pytest.fixture(scope="session")
def artefact(traces):
    X, y = traces
    ids = [f"req-{i}" for i in range(len(y))]
    return fit(X, y, embedder=REF, config=FitConfig(zoo="fast", seed=0), trace_ids=ids,
               parent_version="v0")
