"""The report document: one JSON-able dict that both renderers (HTML and JSON) show.

>>> render_json(jsonable({"threshold": float("-inf"), "agreement": float("nan")}))
'{\\n  "threshold": "-inf",\\n  "agreement": null\\n}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tracer_stream.learn import Artefact, n_min

from . import analysis
from .texts import explain

__all__ = ["SCHEMA", "build_report", "jsonable", "render_json"]

SCHEMA = "tracer-stream.report/1"


def build_report(art: Artefact, X: np.ndarray, y: Sequence[str], *,
                 texts: Sequence[str] | None = None, ids: Sequence[str] | None = None,
                 alpha: float | None = None, source: str | None = None,
                 max_cards: int = 25, max_pairs: int = 40) -> dict[str, Any]:
    """Everything the report shows, computed on held-out traces ``X`` / ``y``.

    Parameters
    ----------
    art
        The fitted model.
    X, y
        Held-out embeddings (from the model's embedder) and their teacher labels. Traces the
        model trained or calibrated on make the numbers optimistic.
    texts, ids
        The traces' texts and ids, shown on examples (default: empty texts, row numbers).
    alpha
        The frontier α to report on (default: the model's target α).
    source
        Where the held-out traces came from (shown in the header).
    max_cards, max_pairs
        How many disagreement cards and contrastive pairs to keep.
    """
    pol = art.policy(alpha)
    view = analysis.route_heldout(art, X, y, alpha=pol.alpha, texts=texts, ids=ids)
    manifest = art.manifest
    doc = {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "model": _model(manifest, art),
        "certificate": _certificate(art, pol.alpha),
        "heldout": analysis.summary(view) | {"alpha": pol.alpha},
        "frontier": _frontier(art, X, y),
        "labels": analysis.label_table(view, alpha=pol.alpha,
                                       delta=pol.delta / max(len(art.labels), 1)),
        "per_label_delta": pol.delta / max(len(art.labels), 1),
        "deferral_reasons": analysis.deferral_reasons(view),
        "contrastive_pairs": analysis.contrastive_pairs(view, max_pairs),
        "disagreements": analysis.disagreement_cards(view, max_cards),
    }
    return dict(jsonable(doc))


def _model(manifest: dict[str, Any], art: Artefact) -> dict[str, Any]:
    keys = ("version", "parent_version", "created_at", "n_traces", "n_train", "n_validation",
            "acceptor_folds", "n_cal", "data_window", "grid_rule")
    return {k: manifest.get(k) for k in keys} | {
        "embedder": art.embedder.id, "n_labels": len(art.labels),
        "target_alpha": art.target_alpha, "novelty": manifest.get("novelty"),
    }


def _certificate(art: Artefact, alpha: float) -> dict[str, Any]:
    pol = art.policy(alpha)
    as_dict = pol.to_dict()
    return {
        "alpha": pol.alpha, "delta": pol.delta, "certified": pol.certified,
        "family": pol.family,
        "surrogate": [art.members[s.member].model.name for s in pol.stages],
        "threshold": as_dict["threshold"] if pol.certified else None,
        "stages": [{"member": s["member"], "threshold": s["threshold"],
                    "certified": s["gate"]["certified"], "n_accepted": s["gate"]["n_accepted"],
                    "p_value": s["gate"]["p_value"]} for s in as_dict["stages"]],
        "calibration": pol.calibration,
        "n_min": n_min(pol.alpha, pol.delta),
        "reason": pol.reason, "reason_text": explain(pol.reason),
        "traces_needed": pol.traces_needed,
    }


def _frontier(art: Artefact, X: np.ndarray, y: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for a, pol in art.frontier.items():
        held = art.evaluate(X, y, a)
        out.append({
            "alpha": a, "certified": pol.certified, "family": pol.family,
            "threshold": pol.to_dict()["threshold"] if pol.certified else None,
            "calibration_coverage": pol.calibration["coverage"],
            "calibration_agreement": pol.calibration["agreement"],
            "heldout_coverage": held["coverage"], "heldout_agreement": held["agreement"],
            "reason": pol.reason, "traces_needed": pol.traces_needed,
        })
    return out


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars unwrapped, NaN as None and ±inf as ``"inf"``/``"-inf"``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
    return obj


def render_json(doc: dict[str, Any]) -> str:
    """The report document as indented JSON (strict: no NaN/Infinity tokens)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
