"""Which traces may calibrate a certificate, and how much risk each refit may spend.

Eligibility (``gate.md``, "Data that keeps the promise true in production"): a trace is a draw
from live traffic, exchangeable with it, when

* it is an **audit** trace (``audit`` true: the router drew the audit flag with probability ρ
  before and regardless of the gate), or
* **no model served its request** (``model_version`` is None: the task had no current version or
  the router could not load it, so every request of the task went to the teacher).

Every other trace was deferred by a serving model, i.e. selected for being hard, and only
trains. An eligible trace goes to the calibration partition by a keyed hash of its
``request_id`` (:func:`tracer_stream.learn.partition.calibration_partition`), so it is held out
from every training set of every refit, forever; eligible traces outside the partition train.

δ-spending: the k-th time a refit of a task runs the gate (k = 1, 2, …, counted over every gate
test, certified or not) it certifies at δₖ = δ·6/(π²k²)
(:func:`tracer_stream.learn.spend_delta`). Since Σₖ 6/(π²k²) = 1, the chance that *any* refit
ever certifies a policy that breaks its α is at most δ (union bound; valid however the refits
depend on each other). Counting only certified deployments would not be valid: a bad candidate
retried at the same level again and again would eventually pass. The refit is where k is kept
(:class:`tracer_stream.training.refit.Refitter`).

>>> calibration_eligible(np.array([True, False, False]), ["v1", "v1", None]).tolist()
[True, False, True]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tracer_stream.learn.partition import calibration_partition


def calibration_eligible(audit: np.ndarray, model_version: Sequence[str | None]) -> np.ndarray:
    """``audit or model_version is None``, per trace."""
    served = np.array([v is not None for v in model_version], dtype=bool)
    return np.asarray(audit, dtype=bool) | ~served


def calibration_mask(request_ids: Sequence[str], audit: np.ndarray,
                     model_version: Sequence[str | None], fraction: float) -> np.ndarray:
    """True for the traces that calibrate: eligible and hashed into the partition."""
    eligible = calibration_eligible(audit, model_version)
    if not len(request_ids):
        return eligible
    return eligible & calibration_partition(list(request_ids), fraction)

