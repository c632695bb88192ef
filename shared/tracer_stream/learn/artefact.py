"""The fitted, self-describing routing model: surrogates, acceptors, novelty index, frontier."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EmbedderError, LearnError
from ..signing import SigningKey, VerifyKeys
from .acceptor import Acceptor, features
from .config import EmbedderRef
from .novelty import CentroidIndex
from .policy import Policy, Signals
from .zoo import Surrogate, full_proba


@dataclass
class RouteResult:
    """Routing decisions for a batch.

    ``labels`` holds the surrogate's guess for every row (also for deferred rows), ``scores``
    the acceptor score of the answering (or first) stage, NaN for novel rows; ``reasons`` is
    None where the surrogate answers, else ``"gate_closed"``, ``"novel_input"``,
    ``"below_threshold"`` or ``"label_not_certified"`` (per-label mode).
    """

    labels: list[str]
    scores: np.ndarray
    accepted: np.ndarray
    reasons: list[str | None]


@dataclass
class Member:
    """A fitted zoo member with the acceptor fitted on its validation behaviour."""

    model: Surrogate
    acceptor: Acceptor

    def signals(self, X: np.ndarray, S: np.ndarray, novel: np.ndarray, n_labels: int) -> Signals:
        P = full_proba(self.model, X, n_labels)
        dense, pred = features(P, S)
        score = self.acceptor.score(dense, pred)
        score[novel] = np.nan
        return Signals(pred=pred, score=score)


class Artefact:
    """A versioned routing model. Build with :func:`~tracer_stream.learn.fit`, persist with
    :meth:`to_bytes` / :meth:`from_bytes`."""

    def __init__(self, *, labels: list[str], members: dict[str, Member], index: CentroidIndex,
                 frontier: dict[float, Policy], target_alpha: float, embedder: EmbedderRef,
                 novelty: bool, manifest: dict[str, Any]) -> None:
        self.labels = list(labels)
        self.members = members
        self.index = index
        self.frontier = dict(sorted(frontier.items()))
        self.target_alpha = float(target_alpha)
        self.embedder = embedder
        self.novelty = novelty
        self._manifest = dict(manifest)
        self._label_array = np.asarray(self.labels, dtype=object)

    # -- identity -------------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        return self._manifest.get("version")

    def with_binding(self, binding: dict[str, Any]) -> Artefact:
        """A copy whose (signed) manifest binds the certificate to the task it was fitted for
        (see :mod:`tracer_stream.tasks.binding`)."""
        return self._with_manifest(binding=dict(binding))

    def _with_manifest(self, **fields: Any) -> Artefact:
        return Artefact(labels=self.labels, members=self.members, index=self.index,
                        frontier=self.frontier, target_alpha=self.target_alpha,
                        embedder=self.embedder, novelty=self.novelty,
                        manifest={**self._manifest, **fields})

    def with_manifest_entry(self, key: str, value: Any) -> Artefact:
        """A copy whose manifest also records ``key`` (a JSON-able ``value``), e.g. the
        embedder's numerics fingerprint (:mod:`tracer_stream.embed.fingerprint`)."""
        return self._with_manifest(**{key: value})

    def check_embedder(self, ref: EmbedderRef) -> None:
        """Raise :class:`EmbedderError` unless ``ref`` is the embedder this model was fit on."""
        if ref != self.embedder:
            raise EmbedderError("embeddings come from a different embedder than the model's",
                                expected=self.embedder.id, got=ref.id)

    # -- certificate ----------------------------------------------------------------------
    def policy(self, alpha: float | None = None) -> Policy:
        """The frontier policy at ``alpha`` (None: the target α)."""
        key = self.target_alpha if alpha is None else float(alpha)
        for a, pol in self.frontier.items():
            if math.isclose(a, key, abs_tol=1e-9):
                return pol
        raise LearnError("alpha is not on this model's frontier", alpha=alpha,
                         frontier=list(self.frontier))

    @property
    def certified(self) -> bool:
        return self.policy().certified

    @property
    def alpha(self) -> float:
        return self.target_alpha

    @property
    def delta(self) -> float:
        return self.policy().delta

    @property
    def threshold(self) -> float | None:
        """Stage-1 threshold at the target α (−∞ for Global; None when the gate is closed)."""
        pol = self.policy()
        return pol.threshold if pol.certified else None

    @property
    def manifest(self) -> dict[str, Any]:
        """JSON-able description: certificate at the target α plus the whole frontier."""
        pol = self.policy()
        out = dict(self._manifest)
        out.update({
            "alpha": self.target_alpha,
            "delta": pol.delta,
            "certified": pol.certified,
            "family": pol.family,
            "surrogate": [self.members[s.member].model.name for s in pol.stages],
            "threshold": pol.to_dict()["threshold"] if pol.certified else None,
            "n_accepted": pol.calibration["n_accepted"],
            "disagreements": pol.calibration["disagreements"],
            "coverage": pol.calibration["coverage"],
            "agreement": pol.calibration["agreement"],
            "reason": pol.reason,
            "traces_needed": pol.traces_needed,
            "traces_range": pol.traces_range,
            "frontier": [p.to_dict() for p in self.frontier.values()],
        })
        return out

    # -- routing --------------------------------------------------------------------------
    def _signals(self, X: np.ndarray, pol: Policy) -> tuple[dict[str, Signals], np.ndarray]:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.embedder.dim:
            raise EmbedderError("input width does not match the model's embedder",
                                expected=self.embedder.dim, shape=X.shape)
        S, dist = self.index.project(X)
        novel = (self.index.novel_from_distance(dist) if self.novelty
                 else np.zeros(len(X), dtype=bool))
        names = {s.member for s in pol.stages}
        return {n: self.members[n].signals(X, S, novel, len(self.labels)) for n in names}, novel

    def route(self, X: np.ndarray, alpha: float | None = None) -> RouteResult:
        """Decide, for each row, whether the surrogate answers (and with which label)."""
        pol = self.policy(alpha)
        signals, novel = self._signals(X, pol)
        ids, accepted, scores = pol.decide(signals)
        reasons: list[str | None]
        if not pol.certified:
            reasons = ["gate_closed"] * len(ids)
        else:
            first = pol.stages[0]
            per_label_closed = (np.isinf(first.label_thresholds[signals[first.member].pred])
                                if first.label_thresholds is not None and len(pol.stages) == 1
                                else np.zeros(len(ids), dtype=bool))
            reasons = [None if a else "novel_input" if nv else
                       "label_not_certified" if pc else "below_threshold"
                       for a, nv, pc in zip(accepted, novel, per_label_closed, strict=True)]
        return RouteResult(labels=self._label_array[ids].tolist(), scores=scores,
                           accepted=accepted, reasons=reasons)

    def evaluate(self, X: np.ndarray, y: Sequence[str], alpha: float | None = None
                 ) -> dict[str, Any]:
        """Coverage and handled agreement with the teacher labels ``y`` on held-out rows."""
        res = self.route(X, alpha)
        y_arr = np.asarray([str(v) for v in y], dtype=object)
        if len(y_arr) != len(res.labels):
            raise LearnError("evaluate needs one label per row", n=len(y_arr))
        handled = res.accepted
        disagree = int((np.asarray(res.labels, dtype=object)[handled] != y_arr[handled]).sum())
        n_acc = int(handled.sum())
        return {
            "n": len(y_arr), "n_accepted": n_acc, "disagreements": disagree,
            "coverage": n_acc / len(y_arr) if len(y_arr) else 0.0,
            "agreement": 1.0 - disagree / n_acc if n_acc else None,
        }

    # -- persistence ----------------------------------------------------------------------
    def to_bytes(self, signing_key: SigningKey) -> bytes:
        """Signed, non-executable serialisation (see :mod:`.serialize`)."""
        from .serialize import dumps

        return dumps(self, signing_key)

    @classmethod
    def from_bytes(cls, blob: bytes, verify_keys: VerifyKeys) -> Artefact:
        """Verify the signature with a trusted key, then load; :class:`ArtefactAuthError`
        before any parsing."""
        from .serialize import loads

        return loads(blob, verify_keys)

