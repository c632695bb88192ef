"""Interpretability on held-out traces: what the surrogate handles, where it errs, why it defers.

Everything here is computed from a fitted :class:`~tracer_stream.learn.Artefact` and held-out
traces with their teacher labels; the result is plain JSON-able data that
:mod:`tracer_stream.report.page` renders.

- :func:`label_table`: per teacher label, counts, coverage, agreement on handled traffic,
  deferral reasons, and a forecast of the traces needed before the label could be certified on
  its own (the per-label test at δ / L, run on held-out data like this).
- :func:`contrastive_pairs`: per label, the closest (cosine) handled/deferred pair of traces.
- :func:`disagreement_cards`: where the routed label differs from the teacher, with the
  surrogate's alternatives; shipped errors (handled rows) first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracer_stream.learn import Artefact, certify, threshold_grid
from tracer_stream.learn.gate import accepted_needed, counts_on_grid
from tracer_stream.learn.zoo import full_proba

from .texts import explain

__all__ = ["HeldOut", "contrastive_pairs", "deferral_reasons", "disagreement_cards",
           "label_table", "route_heldout", "summary"]

_PAIR_CAP = 1000  # rows per side searched for a contrastive pair
_ALTERNATIVES = 3
_NEEDED_CAP = 10**9  # accepted_needed's cap: a rate so close to 1 − α that no data would do


@dataclass
class HeldOut:
    """Held-out traces routed by one frontier policy, row by row.

    ``routed`` (``routed_ids``) and ``score`` are the router's label and acceptor score (for
    deferred rows: the first stage's guess and score, NaN for novel inputs); ``proba`` holds
    the probabilities of the member behind the routed label.
    """

    labels: list[str]
    teacher: np.ndarray
    routed: np.ndarray
    routed_ids: np.ndarray
    accepted: np.ndarray
    score: np.ndarray
    reasons: list[str | None]
    proba: np.ndarray
    unit: np.ndarray
    texts: list[str]
    ids: list[str]


def route_heldout(art: Artefact, X: np.ndarray, y: Sequence[str], *, alpha: float | None = None,
                  texts: Sequence[str] | None = None, ids: Sequence[str] | None = None
                  ) -> HeldOut:
    """Route ``X`` with the policy at ``alpha`` and keep what the report needs per row."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    res = art.route(X, alpha)  # also checks the embedding width
    n, n_labels = len(X), len(art.labels)
    routed = np.asarray(res.labels, dtype=object)
    label_ids = {lab: i for i, lab in enumerate(art.labels)}
    routed_ids = np.asarray([label_ids[lab] for lab in routed], dtype=np.int64)
    stages = art.policy(alpha).stages
    probas = [full_proba(art.members[s.member].model, X, n_labels) for s in stages]
    proba = probas[0]
    for P in probas[1:]:  # a later stage answered where stage 1's guess is not the routed label
        later = proba.argmax(axis=1) != routed_ids
        proba[later] = P[later]
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return HeldOut(
        labels=list(art.labels), teacher=np.asarray([str(v) for v in y], dtype=object),
        routed=routed, routed_ids=routed_ids, accepted=np.asarray(res.accepted, dtype=bool),
        score=np.asarray(res.scores, dtype=float), reasons=list(res.reasons), proba=proba,
        unit=X / np.maximum(norms, 1e-12),
        texts=[str(t) for t in texts] if texts is not None else [""] * n,
        ids=[str(i) for i in ids] if ids is not None else [str(i) for i in range(n)],
    )


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def summary(view: HeldOut) -> dict[str, Any]:
    """Coverage and handled agreement over all held-out rows."""
    n_acc = int(view.accepted.sum())
    k = int((view.routed[view.accepted] != view.teacher[view.accepted]).sum())
    return {"n": len(view.teacher), "n_accepted": n_acc, "disagreements": k,
            "coverage": _rate(n_acc, len(view.teacher)) or 0.0,
            "agreement": None if n_acc == 0 else 1.0 - k / n_acc}


def label_table(view: HeldOut, *, alpha: float, delta: float) -> list[dict[str, Any]]:
    """One row per label (the model's, then teacher labels it never saw), by teacher label.

    ``to_certify`` forecasts the per-label test at ``delta`` (pass δ / L) on the held-out rows
    the router labels as the label (answered or not): ``ready`` (it would pass now),
    ``needs_traces`` (with ``more_label_traces`` more such rows, ``more_traces`` more traces at
    the label's share of the traffic), ``too_little_data`` (at least that many more),
    ``below_target``, ``not_predicted`` or ``unseen_label``.
    """
    unseen = sorted(set(view.teacher.tolist()) - set(view.labels))
    n_total = len(view.teacher)
    errors = view.routed != view.teacher
    rows_out = []
    for lab_id, lab in enumerate([*view.labels, *unseen]):
        rows = view.teacher == lab
        handled = rows & view.accepted
        k = int((view.routed[handled] != lab).sum())
        n, n_acc = int(rows.sum()), int(handled.sum())
        reasons = Counter(r for r, a in zip(np.asarray(view.reasons, dtype=object)[rows],
                                            view.accepted[rows], strict=True) if not a)
        predicted = view.routed_ids == lab_id if lab_id < len(view.labels) else None
        rows_out.append({
            "label": lab, "n": n, "share": _rate(n, n_total) or 0.0, "handled": n_acc,
            "coverage": _rate(n_acc, n) or 0.0,
            "agreement": None if n_acc == 0 else 1.0 - k / n_acc, "disagreements": k,
            "deferred": n - n_acc, "deferral_reasons": dict(reasons.most_common()),
            "predicted": int(predicted.sum()) if predicted is not None else 0,
            "to_certify": (forecast(view.score[predicted], errors[predicted], n_total,
                                    alpha=alpha, delta=delta)
                           if predicted is not None else {"status": "unseen_label"}),
        })
    return rows_out


def forecast(scores: np.ndarray, errors: np.ndarray, n_total: int, *, alpha: float,
             delta: float) -> dict[str, Any]:
    """Would an exact fixed-sequence test on these rows pass, and if not, with how many more?

    The walk of :func:`~tracer_stream.learn.certify` runs on a grid of the rows' own score
    quantiles. When it certifies nothing, for every threshold whose observed disagreement rate
    is below 1 − α, the rows an exact test at that rate and acceptance share would need are
    computed; the smallest, minus the rows there are, is ``more_label_traces`` (an estimate:
    thresholds that accept few rows have noisy rates but also small shares, which makes their
    estimates large). With fewer rows than the test's minimum and no usable rate, the status is
    ``too_little_data`` and ``more_label_traces`` a lower bound.
    """
    rows = len(scores)
    if rows == 0:
        return {"status": "not_predicted", "n_min": None}
    grid = threshold_grid(scores)
    gate = certify(scores, errors, grid, alpha=alpha, delta=delta)
    out: dict[str, Any] = {"n_min": gate.n_min}
    if gate.certified:
        return out | {"status": "ready", "coverage": gate.coverage, "agreement": gate.agreement,
                      "more_label_traces": 0, "more_traces": 0}
    n, k = counts_on_grid(scores, errors, grid)
    rate = k / np.maximum(n, 1)
    usable = (n > 0) & (rate < 1.0 - alpha)
    needed = accepted_needed(rate[usable], alpha, delta)
    practical = needed < _NEEDED_CAP
    if practical.any():
        total = needed[practical] / (n[usable][practical] / rows)
        more = max(1, math.ceil(float(total.min())) - rows)
        status = "needs_traces"
    elif rows < gate.n_min:
        more, status = gate.n_min - rows, "too_little_data"
    else:
        return out | {"status": "below_target"}
    return out | {"status": status, "more_label_traces": more,
                  "more_traces": math.ceil(more * n_total / rows)}


def deferral_reasons(view: HeldOut) -> list[dict[str, Any]]:
    """Deferred rows by reason, most frequent first."""
    counts = Counter(r for r, a in zip(view.reasons, view.accepted, strict=True) if not a)
    total = len(view.teacher)
    return [{"reason": r, "count": c, "share": c / total, "text": explain(r)}
            for r, c in counts.most_common()]


def _example(view: HeldOut, i: int) -> dict[str, Any]:
    score = float(view.score[i])
    return {"id": view.ids[i], "text": view.texts[i], "teacher": view.teacher[i],
            "surrogate": view.routed[i], "handled": bool(view.accepted[i]),
            "score": None if math.isnan(score) else score, "reason": view.reasons[i]}


def contrastive_pairs(view: HeldOut, limit: int) -> list[dict[str, Any]]:
    """For each teacher label with both, the most similar handled/deferred pair of traces."""
    pairs = []
    for lab in dict.fromkeys(view.teacher.tolist()):
        rows = view.teacher == lab
        h = np.flatnonzero(rows & view.accepted)[:_PAIR_CAP]
        d = np.flatnonzero(rows & ~view.accepted)[:_PAIR_CAP]
        if h.size == 0 or d.size == 0:
            continue
        sims = view.unit[h] @ view.unit[d].T
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        pairs.append({"label": lab, "similarity": float(sims[i, j]),
                      "handled": _example(view, int(h[i])),
                      "deferred": _example(view, int(d[j]))})
    pairs.sort(key=lambda p: -p["similarity"])
    return pairs[:limit]


def disagreement_cards(view: HeldOut, limit: int) -> dict[str, Any]:
    """Rows whose routed label differs from the teacher's: handled ones (errors shipped to
    users) first, then deferred ones (errors the gate caught), each by descending score."""
    wrong = view.routed != view.teacher
    key = np.where(np.isnan(view.score), -np.inf, view.score)
    handled = np.flatnonzero(wrong & view.accepted)
    deferred = np.flatnonzero(wrong & ~view.accepted)
    order = [*handled[np.argsort(-key[handled], kind="stable")],
             *deferred[np.argsort(-key[deferred], kind="stable")]][:limit]
    label_ids = {lab: i for i, lab in enumerate(view.labels)}
    cards = []
    for i in order:
        p = view.proba[i]
        top = np.argsort(-p, kind="stable")[:_ALTERNATIVES]
        t = label_ids.get(view.teacher[i])
        cards.append(_example(view, int(i)) | {
            "alternatives": [{"label": view.labels[j], "probability": float(p[j])} for j in top],
            "teacher_probability": None if t is None else float(p[t]),
            "teacher_rank": None if t is None else int((p > p[t]).sum()) + 1,
        })
    return {"handled": int(handled.size), "deferred": int(deferred.size), "shown": len(cards),
            "cards": cards}
