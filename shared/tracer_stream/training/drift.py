"""Drift watch of one task: a river shadow learner and river change detectors.

These are operational triggers for an early refit and for alerts (``docs/gate.md``); the guarantee
itself is the live monitor's (:mod:`tracer_stream.training.live_guard`).

* **Shadow learner** — a :class:`river.linear_model.SoftmaxRegression` learns every trace that
  carries an embedding (embedding → teacher label), predicting before it learns. It sees a fixed
  random projection of the embedding to ``features`` dimensions: river learns one dict entry at
  a time, and the projection keeps a trace at well under a millisecond (d = 384 and dozens of
  labels would cost tens). ADWIN watches
  its prequential error (``shadow_error``: an abrupt change, before the learner adapts) and its
  disagreement with the deployed surrogate's label (``shadow_vs_surrogate``: the learner follows
  the new concept, the deployed surrogate does not, so this one stays up after a shift). The
  agreement with the surrogate over the last ``window`` traces is reported as a metric.

  The two detectors watch the stream of requests the router sent to the teacher *for their own
  sake*, and that stream is selected by the routing, not only by the traffic. So they skip audit
  traces of handled requests (how many there are depends on the audit rate, which an alarm or
  the monitor's suspicion boosts; the learner still learns from them, and the served-traffic
  detector ``shadow_error_handled`` below watches them), and they restart when the selection
  changes regime: between "every request reaches the teacher" (no model served it, or a
  task-level reason such as ``gate_closed``) and "only deferred requests do". Without the restart,
  the first model of every task (the stream turns from all traffic to the hard part of it) and
  every gate closure would look like drift.
* **Served-traffic detectors** — on audit traces of the current version, a uniform sample of
  served traffic (the audit rate changes how many there are, never which): ADWIN on the audited
  disagreement of accepted requests (``audited_disagreement``), ADWIN on the shadow learner's
  prequential error on the same accepted requests (``shadow_error_handled``: a teacher that
  changes its mind on inputs the surrogate accepts — a relabelling the deferred stream never
  shows — makes the learner wrong there before it adapts), ADWIN on the acceptance rate
  (``acceptance_rate``, both directions) and two-sided Page-Hinkley on the acceptor scores
  (``accept_score``). They restart when the current version changes, and skip traces deferred
  for a task-level reason (a closed gate accepts nothing).

Error and disagreement detectors alarm only when their rate goes up.

>>> watch = DriftWatch(warmup=20)
>>> fired = []
>>> for i in range(600):
...     x, old = ([1.0, 0.0], "a") if i % 2 else ([0.0, 1.0], "b")
...     label = old if i < 300 else {"a": "b", "b": "a"}[old]           # labels remapped
...     fired += watch.update(Trace(request_id=str(i), task="t", text="x", label=label,
...                                 audit=False, gate_accepted=False, surrogate_label=old,
...                                 model_version="v1", embedding=x), "v1")
>>> fired
['shadow_error', 'shadow_vs_surrogate']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

import numpy as np

from tracer_stream.contracts import Trace
from tracer_stream.contracts.reasons import WHOLE_TASK
from tracer_stream.extras import needs_extra

with needs_extra("trainer", "the trainer's drift watch"):
    from river import drift, linear_model, optim

_UPWARD_ONLY = frozenset({"audited_disagreement", "shadow_error_handled"})


def _shadow_detector() -> drift.ADWIN:
    return drift.ADWIN(delta=0.002, clock=1)


def _served_detectors() -> dict[str, drift.ADWIN | drift.PageHinkley]:
    return {
        "audited_disagreement": drift.ADWIN(delta=0.002),
        "shadow_error_handled": drift.ADWIN(delta=0.002),
        "acceptance_rate": drift.ADWIN(delta=0.002),
        "accept_score": drift.PageHinkley(min_instances=50, delta=0.02, threshold=10.0,
                                          mode="both"),
    }


class DriftWatch:
    """Shadow learner and detectors of one task.

    Parameters
    ----------
    warmup
        Traces the shadow learner learns before its error is watched.
    window
        Traces over which the shadow/surrogate agreement is averaged.
    learning_rate
        SGD step of the shadow learner.
    features
        Width of the random projection the shadow learner sees.
    """

    def __init__(self, warmup: int = 200, window: int = 500, learning_rate: float = 0.5,
                 features: int = 32) -> None:
        self.warmup = warmup
        self.learning_rate = learning_rate
        self.features = features
        self._projection = np.zeros((0, features))
        self._shadow = linear_model.SoftmaxRegression(optimizer=optim.SGD(learning_rate))
        self._shadow_error = _shadow_detector()
        self._shadow_vs_surrogate = _shadow_detector()
        self._learned = 0
        self._all_traffic: bool | None = None  # selection regime of the watched stream
        self._dim: int | None = None
        self._agree: deque[bool] = deque(maxlen=window)
        self._version: str | None = None
        self._served = _served_detectors()

    @property
    def shadow_agreement(self) -> float | None:
        """Share of recent traces where the shadow learner and the surrogate agree."""
        return sum(self._agree) / len(self._agree) if self._agree else None

    def update(self, trace: Trace, current_version: str | None) -> list[str]:
        """Learn one stored trace; returns the detectors that signalled drift on it."""
        if current_version != self._version:
            self._version = current_version
            self._served = _served_detectors()
        fired, guess = self._learn(trace)
        if (trace.audit and current_version is not None and trace.model_version == current_version
                and trace.reason not in WHOLE_TASK):
            if trace.gate_accepted and trace.surrogate_label is not None:
                fired += self._feed("audited_disagreement",
                                    float(trace.surrogate_label != trace.label))
            if trace.gate_accepted and guess is not None and self._learned > self.warmup:
                fired += self._feed("shadow_error_handled", float(guess != trace.label))
            fired += self._feed("acceptance_rate", float(trace.gate_accepted))
            if trace.accept_score is not None:
                fired += self._feed("accept_score", float(trace.accept_score))
        return fired

    def _learn(self, trace: Trace) -> tuple[list[str], Hashable | None]:
        """Predict, then learn, one trace: the shadow detectors that fired and the guess made
        before learning (None before the first trace of this embedding)."""
        emb = trace.embedding
        if not emb:
            return [], None
        if self._dim != len(emb):  # first trace, or the embedder changed: start over
            self._dim = len(emb)
            rng = np.random.default_rng(len(emb))
            self._projection = rng.standard_normal((len(emb), self.features)) / np.sqrt(
                self.features)
            self._shadow = linear_model.SoftmaxRegression(optimizer=optim.SGD(self.learning_rate))
            self._shadow_error = _shadow_detector()
            self._shadow_vs_surrogate = _shadow_detector()
            self._learned = 0
        x: dict[Hashable, float] = dict(enumerate((np.asarray(emb) @ self._projection).tolist()))
        fired: list[str] = []
        guess: Hashable | None = None
        audit_only = trace.audit and trace.gate_accepted
        if not audit_only:
            self._follow_regime(trace.model_version is None
                                or trace.reason in WHOLE_TASK)
        if self._learned:
            guess = self._shadow.predict_one(x)
            watched = self._learned >= self.warmup and not audit_only
            if watched and _changed_up(self._shadow_error, float(guess != trace.label)):
                fired.append("shadow_error")
            if trace.surrogate_label is not None:
                self._agree.append(guess == trace.surrogate_label)
                if watched and _changed_up(self._shadow_vs_surrogate,
                                           float(guess != trace.surrogate_label)):
                    fired.append("shadow_vs_surrogate")
        self._shadow.learn_one(x, trace.label)
        self._learned += 1
        return fired, guess

    def _follow_regime(self, all_traffic: bool) -> None:
        """Restart the shadow detectors when the watched stream changes selection regime."""
        if self._all_traffic is not None and all_traffic != self._all_traffic:
            self._shadow_error = _shadow_detector()
            self._shadow_vs_surrogate = _shadow_detector()
        self._all_traffic = all_traffic

    def _feed(self, name: str, value: float) -> list[str]:
        detector = self._served[name]
        if name in _UPWARD_ONLY:
            return [name] if _changed_up(detector, value) else []
        detector.update(value)
        return [name] if detector.drift_detected else []


def _changed_up(detector: drift.ADWIN | drift.PageHinkley, value: float) -> bool:
    """Update an ADWIN and report a detection only when its mean went up (ADWIN keeps the
    window after the cut, so its estimate before and after the update gives the direction)."""
    assert isinstance(detector, drift.ADWIN)
    before = detector.estimation
    detector.update(value)
    return bool(detector.drift_detected) and detector.estimation > before

