"""Routing policies: which surrogate answers, under which certified threshold.

A policy is one or two stages. Global and L2D have one stage (Global's threshold is −∞: accept
every non-novel input); RSB has two, the second answering only what the first deferred. Each
stage names a zoo member, carries its certified threshold (+∞ when it certified nothing) and the
gate result that certified it. Novel inputs are never accepted by any stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gate import GateResult

NEVER = math.inf


@dataclass
class Signals:
    """One member's view of a batch: predicted label ids and acceptor scores (NaN = novel)."""

    pred: np.ndarray
    score: np.ndarray


@dataclass
class Stage:
    """One stage of a policy.

    ``label_thresholds`` (per-label mode) replaces ``threshold`` with one threshold per label id.
    """

    member: str
    threshold: float
    gate: GateResult
    grid_size: int
    label_thresholds: np.ndarray | None = None

    def accepts(self, sig: Signals) -> np.ndarray:
        thr = self.threshold if self.label_thresholds is None else self.label_thresholds[sig.pred]
        with np.errstate(invalid="ignore"):
            return np.asarray(sig.score >= thr, dtype=bool)  # NaN (novel) never passes

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "member": self.member,
            "threshold": _json_float(self.threshold),
            "grid_size": self.grid_size,
            "gate": self.gate.to_dict(),
        }
        if self.label_thresholds is not None:
            out["label_thresholds"] = [_json_float(t) for t in self.label_thresholds]
        return out


@dataclass
class Policy:
    """A certified (or closed) routing rule at one α, with its calibration summary."""

    alpha: float
    delta: float
    family: str
    stages: list[Stage]
    certified: bool
    reason: str | None
    traces_needed: int | None
    calibration: dict[str, Any]
    validation: dict[str, Any]

    @property
    def threshold(self) -> float:
        return self.stages[0].threshold

    @property
    def traces_range(self) -> list[int | None] | None:
        """The first stage's forecast range [low, high] of the traces still needed (None when
        certified or without a range; high None: beyond 100 times the current traces)."""
        gate = self.stages[0].gate
        if self.certified or gate.traces_low is None:
            return None
        return [gate.traces_low, gate.traces_high]

    def decide(self, signals: dict[str, Signals]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, accepted, score of the answering stage) for a batch."""
        first = signals[self.stages[0].member]
        labels = first.pred.copy()
        scores = first.score.copy()
        accepted = np.zeros(len(labels), dtype=bool)
        if not self.certified:
            return labels, accepted, scores
        for stage in self.stages:
            sig = signals[stage.member]
            take = ~accepted & stage.accepts(sig)
            labels[take] = sig.pred[take]
            scores[take] = sig.score[take]
            accepted |= take
        return labels, accepted, scores

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "delta": self.delta,
            "family": self.family,
            "certified": self.certified,
            "threshold": _json_float(self.threshold),
            "reason": self.reason,
            "traces_needed": self.traces_needed,
            "traces_range": self.traces_range,
            "stages": [s.to_dict() for s in self.stages],
            "calibration": self.calibration,
            "validation": self.validation,
        }


def stage_from_dict(data: dict[str, Any]) -> Stage:
    gate = dict(data["gate"])
    if gate["threshold"] is not None:
        gate["threshold"] = float(gate["threshold"])
    labels = data.get("label_thresholds")
    return Stage(
        member=data["member"], threshold=float(data["threshold"]), gate=GateResult(**gate),
        grid_size=int(data["grid_size"]),
        label_thresholds=None if labels is None else np.array([float(t) for t in labels]),
    )


def policy_from_dict(data: dict[str, Any]) -> Policy:
    return Policy(
        alpha=float(data["alpha"]), delta=float(data["delta"]), family=data["family"],
        stages=[stage_from_dict(s) for s in data["stages"]], certified=bool(data["certified"]),
        reason=data["reason"], traces_needed=data["traces_needed"],
        calibration=data["calibration"], validation=data["validation"],
    )


def _json_float(x: float) -> float | str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)

