"""Is a certified candidate at least as good as the version it would replace?

Both are evaluated on the same rows: the calibration traces of the refit (which neither model
trained on — the partition is fixed forever). The candidate replaces the current version when

1. there is no current version, or it cannot be evaluated on these embeddings (for example the
   task's embedder changed);
2. the task's gate is closed (the live monitor refuted the current version, or an operator
   closed it);
3. the current version's handled agreement on these rows is below its own α; or
4. the candidate handles at least as much of the traffic (coverage ≥ the current coverage).

Otherwise the current version keeps serving and the candidate is stored, not promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer_stream.learn import Artefact


@dataclass
class Comparison:
    """The decision, why, and what the two models do on the shared rows."""

    promote: bool
    reason: str
    candidate: dict[str, Any]
    parent: dict[str, Any] | None = None
    coverage_deltas: dict[str, dict[str, float | int | None]] = field(default_factory=dict)


def per_label_coverage(art: Artefact, X: np.ndarray, y: Sequence[str]) -> dict[str, float]:
    """Share of the rows of each teacher label that ``art`` answers."""
    accepted = art.route(X).accepted
    y_arr = np.asarray(y, dtype=object)
    return {str(label): float(accepted[y_arr == label].mean()) for label in sorted(set(y))}


def coverage_deltas(candidate: dict[str, float], parent: dict[str, float] | None,
                    counts: dict[str, int]) -> dict[str, dict[str, float | int | None]]:
    """Per label: rows, the candidate's and the parent's coverage, and the change."""
    out: dict[str, dict[str, float | int | None]] = {}
    for label, cov in candidate.items():
        before = None if parent is None else parent.get(label)
        out[label] = {"n": counts[label], "coverage": cov, "parent_coverage": before,
                      "delta": None if before is None else cov - before}
    return out


def compare(candidate: Artefact, parent: Artefact | None, X: np.ndarray, y: Sequence[str], *,
            gate_open: bool, parent_error: str | None = None) -> Comparison:
    """Apply the rules of this module to a certified ``candidate``."""
    counts = {str(k): int(v) for k, v in zip(*np.unique(np.asarray(y, dtype=str),
                                                        return_counts=True), strict=True)}
    cand_eval = candidate.evaluate(X, y)
    cand_cov = per_label_coverage(candidate, X, y)
    if parent is None:
        why = f"current version cannot be evaluated: {parent_error}" if parent_error else (
            "first version of the task")
        return Comparison(True, why, cand_eval, coverage_deltas=coverage_deltas(
            cand_cov, None, counts))
    par_eval = parent.evaluate(X, y)
    deltas = coverage_deltas(cand_cov, per_label_coverage(parent, X, y), counts)
    par_agree = par_eval["agreement"]
    if not gate_open:
        promote, why = True, "the task's gate is closed"
    elif par_agree is not None and par_agree < parent.alpha:
        promote, why = True, (f"current version's agreement {par_agree:.4f} is below its "
                              f"alpha {parent.alpha} on the calibration data")
    elif cand_eval["coverage"] >= par_eval["coverage"]:
        promote, why = True, (f"coverage {cand_eval['coverage']:.4f} >= current "
                              f"{par_eval['coverage']:.4f} on {len(y)} calibration traces")
    else:
        promote, why = False, (f"coverage {cand_eval['coverage']:.4f} < current "
                               f"{par_eval['coverage']:.4f} on {len(y)} calibration traces")
    return Comparison(promote, why, cand_eval, par_eval, deltas)
