"""Interpretability data of an artefact on held-out traces (pure data; rendering is elsewhere).

Everything is computed on traces the caller holds out (for example the calibration traces or a
recent audit sample): per-label coverage and agreement with counts and the traces needed to
certify each label, nearest-neighbour contrastive pairs (a handled and a deferred trace of the
same label close in embedding space), disagreement cards with the surrogate's alternatives, and
deferral reason counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LearnError
from .gate import certify, threshold_grid
from .novelty import unit_rows
from .zoo import full_proba

if TYPE_CHECKING:
    from .artefact import Artefact

_TOP_ALTERNATIVES = 3


def report_data(art: Artefact, X: np.ndarray, y: Sequence[str], texts: Sequence[str] | None,
                *, alpha: float | None = None, max_cards: int = 50,
                pairs_per_label: int = 1) -> dict[str, Any]:
    """Interpretability data for the policy at ``alpha`` (default: target α) on held-out rows."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    y_arr = np.asarray([str(v) for v in y], dtype=object)
    if len(y_arr) != len(X) or (texts is not None and len(texts) != len(X)):
        raise LearnError("report_data needs one label (and text) per row", n=len(X))
    pol = art.policy(alpha)
    res = art.route(X, pol.alpha)
    pred = np.asarray(res.labels, dtype=object)
    handled = res.accepted
    agree = pred == y_arr
    P = full_proba(art.members[pol.stages[0].member].model, X, len(art.labels))

    def text(i: int) -> dict[str, Any]:
        return {"row": int(i), "text": texts[i]} if texts is not None else {"row": int(i)}

    n_handled = int(handled.sum())
    return {
        "version": art.version,
        "alpha": pol.alpha,
        "delta": pol.delta,
        "certified": pol.certified,
        "family": pol.family,
        "n": len(y_arr),
        "coverage": n_handled / len(y_arr) if len(y_arr) else 0.0,
        "agreement": float(agree[handled].mean()) if n_handled else None,
        "surrogate_agreement_all": float(agree.mean()) if len(y_arr) else None,
        "deferral_reasons": dict(Counter(r for r in res.reasons if r is not None)),
        "per_label": _per_label(art, y_arr, pred, handled, res.scores, pol.alpha, pol.delta),
        "contrastive_pairs": _pairs(X, y_arr, handled, res.scores, res.reasons, text,
                                    pairs_per_label),
        "disagreement_cards": _cards(art, P, y_arr, pred, handled, res.scores, text, max_cards),
    }


def _per_label(art: Artefact, y: np.ndarray, pred: np.ndarray, handled: np.ndarray,
               scores: np.ndarray, alpha: float, delta: float) -> list[dict[str, Any]]:
    """Per teacher label: volume, coverage, handled agreement; per predicted label: what
    certifying that label alone (δ / L) would need on data like this."""
    out = []
    n_labels = max(len(art.labels), 1)
    for label in art.labels:
        mine = y == label
        as_pred = pred == label
        n, h = int(mine.sum()), int((mine & handled).sum())
        correct = int((mine & handled & (pred == y)).sum())
        gate = certify(scores[as_pred], (pred != y)[as_pred],
                       threshold_grid(scores[as_pred]), alpha=alpha, delta=delta / n_labels)
        out.append({
            "label": label,
            "n": n,
            "handled": h,
            "coverage": h / n if n else None,
            "agreement": correct / h if h else None,
            "predicted": int(as_pred.sum()),
            "predicted_handled": int((as_pred & handled).sum()),
            "certifiable_alone": gate.certified,
            "traces_needed": gate.traces_needed,
            "not_certifiable_reason": gate.reason,
        })
    return out


def _pairs(X: np.ndarray, y: np.ndarray, handled: np.ndarray, scores: np.ndarray,
           reasons: list[str | None], text: Any, per_label: int) -> list[dict[str, Any]]:
    """Closest (handled, deferred) pairs of the same teacher label, by cosine similarity."""
    U = unit_rows(X)
    out = []
    for label in np.unique(y):
        h = np.flatnonzero((y == label) & handled)
        d = np.flatnonzero((y == label) & ~handled)
        if not (h.size and d.size):
            continue
        sims = U[d] @ U[h].T
        flat = np.argsort(-sims, axis=None)[:per_label]
        for di, hi in zip(*np.unravel_index(flat, sims.shape), strict=True):
            a, b = int(h[hi]), int(d[di])
            out.append({
                "label": label, "similarity": float(sims[di, hi]),
                "handled": {**text(a), "score": _num(scores[a])},
                "deferred": {**text(b), "score": _num(scores[b]), "reason": reasons[b]},
            })
    return out


def _cards(art: Artefact, P: np.ndarray, y: np.ndarray, pred: np.ndarray, handled: np.ndarray,
           scores: np.ndarray, text: Any, max_cards: int) -> list[dict[str, Any]]:
    """Rows where surrogate and teacher disagree, most confident first, with alternatives."""
    rows = np.flatnonzero(pred != y)
    order = rows[np.argsort(-np.nan_to_num(scores[rows], nan=-1.0), kind="stable")][:max_cards]
    top = np.argsort(-P[order], axis=1)[:, :_TOP_ALTERNATIVES]
    return [{
        **text(i),
        "teacher": y[i],
        "surrogate": pred[i],
        "handled": bool(handled[i]),
        "score": _num(scores[i]),
        "alternatives": [{"label": art.labels[j], "probability": float(P[i, j])} for j in t],
    } for i, t in zip(order, top, strict=True)]


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
