"""Candidate versus current version: the promotion rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer_stream.training.compare import compare


class Stub:
    """An artefact that answers the rows where ``accept`` is true with ``labels``."""

    def __init__(self, labels: list[str], accept: list[bool], alpha: float = 0.95) -> None:
        self.labels, self.accepted, self.alpha = labels, np.array(accept), alpha

    def route(self, X: np.ndarray) -> Any:
        return self

    def evaluate(self, X: np.ndarray, y: list[str]) -> dict[str, Any]:
        wrong = sum(a and p != t for a, p, t in zip(self.accepted, self.labels, y, strict=True))
        n_acc = int(self.accepted.sum())
        return {"n": len(y), "n_accepted": n_acc, "disagreements": wrong,
                "coverage": n_acc / len(y), "agreement": 1 - wrong / n_acc if n_acc else None}


Y = ["a", "a", "b", "b"]
X = np.zeros((4, 2))
WIDE = Stub(Y, [True, True, True, False])
NARROW = Stub(Y, [True, False, False, False])


def decide(candidate: Stub, parent: Stub | None, **kwargs: Any) -> Any:
    return compare(candidate, parent, X, Y, **{"gate_open": True} | kwargs)  # type: ignore[arg-type]


def test_first_version_and_unloadable_parent_are_replaced() -> None:
    assert decide(NARROW, None).promote
    cmp = decide(NARROW, None, parent_error="v1: signature mismatch")
    assert cmp.promote and "cannot be evaluated" in cmp.reason and cmp.parent is None


def test_more_or_equal_coverage_wins_less_loses() -> None:
    assert decide(WIDE, NARROW).promote
    assert decide(WIDE, WIDE).promote
    kept = decide(NARROW, WIDE)
    assert not kept.promote and "coverage 0.2500 < current 0.7500" in kept.reason
    assert kept.coverage_deltas["a"] == {"n": 2, "coverage": 0.5, "parent_coverage": 1.0,
                                         "delta": -0.5}


def test_a_refuted_or_gated_off_current_version_is_replaced() -> None:
    assert decide(NARROW, WIDE, gate_open=False).promote
    wrong = Stub(["b", "b", "b", "b"], [True, True, True, True])
    cmp = decide(NARROW, wrong)
    assert cmp.promote and "below its alpha" in cmp.reason
