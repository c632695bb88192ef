"""Helpers for the trainer library's unit tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tracer_stream.contracts import Trace


def make_trace(i: int, *, task: str = "intents", label: str = "a", audit: bool = False,
               gate_accepted: bool = False, model_version: str | None = None,
               surrogate_label: str | None = None, accept_score: float | None = None,
               embedding: list[float] | None = None, embedder_id: str | None = "emb/4/x",
               ) -> Trace:
    """A trace with a deterministic id ``r<i>`` and, by default, a 4-d embedding."""
    if embedding is None and embedder_id is not None:
        embedding = np.random.default_rng(i).standard_normal(4).astype(np.float32).tolist()
    return Trace(request_id=f"r{i}", task=task, text=f"text {i}", label=label, audit=audit,
                 gate_accepted=gate_accepted, model_version=model_version,
                 surrogate_label=surrogate_label, accept_score=accept_score,
                 embedding=embedding, embedder_id=embedder_id)


@pytest.fixture
def trace() -> Callable[..., Trace]:
    return make_trace
