"""Which traces may calibrate a certificate, and how much risk each refit may spend.

Eligibility (``docs/gate.md``, "Data that keeps the promise true in production"): a trace is a draw
from live traffic, exchangeable with it, when the decision that sent its request to the teacher
did not look at the request. That holds when

* it is an **audit** trace (``audit`` true: the router drew the audit flag before and regardless
  of the gate, independently for every request, with probability ρ — or the temporary boosted
  rate after an alarm; the rate depends on time only, never on the request);
* **no model served its request** (``model_version`` is None: the task had no current version,
  so every request of the task went to the teacher); or
* the router deferred it for a **task-level reason**
  (:data:`~tracer_stream.contracts.reasons.WHOLE_TASK`, carried in the trace's ``reason``): the
  gate was closed (``gate_closed`` — the live monitor or an operator closed it, and every request
  of the task goes to the teacher), the current model could not be used (``no_model``,
  ``uncertified``, ``alpha_not_on_frontier``, ``model_invalid``, ``embedder_mismatch``) or the
  registry could not be trusted (``redis_unavailable``, ``registry_stale``). These are decided per
  task before any text is looked at, so the traces they produce are all the traffic of the task
  while the condition lasts.

Every other trace was deferred by a serving model because of its content (``below_threshold``,
``novel_input``, ``label_not_certified`` from the learning core; ``embedder_error`` and
``surrogate_error`` fail a whole batch and may be caused by one of its texts) — selected for
being hard — and only trains. An eligible trace goes to the calibration partition by a keyed
hash of its ``request_id`` (:func:`tracer_stream.learn.partition.calibration_partition`), so it
is held out from every training set of every refit, forever; eligible traces outside the
partition train.

Calibration epochs: traces collected earlier stay valid calibration data only while traffic is
stationary. When a drift detector or the live monitor raises an alarm the trainer starts a new
epoch at the next store sequence number (:class:`tracer_stream.training.state.TrainerState`);
a refit then calibrates only on the partition's traces with ``seq`` ≥ the epoch's start
(:func:`calibration_rows`). Older partition traces stay out of training (held out forever) and
no longer calibrate. The start lies strictly after the alarm, and the traces after it are
independent of the detector's decision to fire, so they are as good a calibration sample as
any. Audit traces drawn at a boosted rate over-represent the time after the alarm; inside an
epoch that is the traffic the certificate is about.

δ-spending: the k-th time a refit of a task runs the gate (k = 1, 2, …, counted over every gate
test, certified or not) it certifies at δₖ = δ·6/(π²k²)
(:func:`tracer_stream.learn.spend_delta`). Since Σₖ 6/(π²k²) = 1, the chance that *any* refit
ever certifies a policy that breaks its α is at most δ (union bound; valid however the refits
depend on each other, including the choice of the epoch). Counting only certified deployments
would not be valid: a bad candidate retried at the same level again and again would eventually
pass. The refit is where k is kept (:class:`tracer_stream.training.refit.Refitter`).

>>> calibration_eligible(np.array([True, False, False, False]), ["v1", "v1", None, "v1"],
...                      [None, "below_threshold", "no_model", "gate_closed"]).tolist()
[True, False, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tracer_stream.contracts.reasons import WHOLE_TASK
from tracer_stream.learn.partition import calibration_partition


def calibration_eligible(audit: np.ndarray, model_version: Sequence[str | None],
                         reasons: Sequence[str | None] | None = None) -> np.ndarray:
    """``audit or model_version is None or reason in WHOLE_TASK``, per trace."""
    served = np.array([v is not None for v in model_version], dtype=bool)
    whole_task = np.array([r in WHOLE_TASK for r in reasons] if reasons is not None
                          else [False] * len(served), dtype=bool)
    return np.asarray(audit, dtype=bool) | ~served | whole_task


def calibration_mask(request_ids: Sequence[str], audit: np.ndarray,
                     model_version: Sequence[str | None], fraction: float,
                     reasons: Sequence[str | None] | None = None) -> np.ndarray:
    """True for the traces held out for calibration: eligible and hashed into the partition.
    They never train; which of them calibrate a refit is :func:`calibration_rows`."""
    eligible = calibration_eligible(audit, model_version, reasons)
    if not len(request_ids):
        return eligible
    return eligible & calibration_partition(list(request_ids), fraction)


def calibration_rows(held_out: np.ndarray, seq: np.ndarray, epoch_start: int) -> np.ndarray:
    """The held-out traces of the current calibration epoch (``seq`` ≥ ``epoch_start``).

    >>> calibration_rows(np.array([True, True, False, True]), np.array([1, 2, 3, 4]), 2).tolist()
    [False, True, False, True]
    """
    return np.asarray(held_out, dtype=bool) & (np.asarray(seq) >= epoch_start)
