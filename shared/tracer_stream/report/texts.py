"""Plain-language explanations of the machine-readable codes a model and a report carry."""

from __future__ import annotations

__all__ = ["DEFERRAL_REASONS", "GATE_REASONS", "NO_NUMBER", "explain", "needed_text",
           "splits_text"]

DEFERRAL_REASONS: dict[str, str] = {
    "below_threshold": "the acceptor score is below the certified threshold",
    "novel_input": "the input is far from every label seen in training",
    "gate_closed": "nothing is certified at this α, so every input goes to the teacher",
    "label_not_certified": "the predicted label has no certificate of its own (per-label mode)",
}
"""Why the router sends a request to the teacher (``RouteResult.reasons``)."""

GATE_REASONS: dict[str, str] = {
    "too_few_accepted": "no threshold accepts enough calibration traces for an exact test to pass",
    "insufficient_evidence": "the observed agreement is above α but the evidence is not yet "
                             "strong enough at confidence 1 − δ",
    "agreement_below_target": "no threshold's disagreement with the teacher is credibly below "
                              "1 − α; more traces of the same kind are not expected to help",
    "too_early_to_tell": "too few calibration traces to tell whether more traces would open "
                         "the gate",
    "beyond_horizon": "the gate is expected to open, but only after more than 100 times the "
                      "current calibration traces",
    "evidence_too_thin": "more traces are expected to open the gate, but how many is too "
                         "uncertain for a number within a factor 2",
    "no_calibration_data": "there were no calibration traces",
    "no_label_certified": "no label could be certified on its own (per-label mode)",
}
"""Why a gate certified nothing (``GateResult.reason``; ``docs/reasons.md``, "Closed gates")."""

NO_NUMBER: dict[str, str] = {
    "agreement_below_target": "more traces of the same kind are not expected to help",
    "too_early_to_tell": "too early to tell how many more traces are needed",
    "beyond_horizon": "more than 100 times the current traces are expected to be needed",
    "evidence_too_thin": "how many more traces is too uncertain to say",
}
"""What a closed gate's forecast says when it gives no number, by reason (short)."""


def needed_text(needed: int | None, reason: str | None, *, short: bool = False,
                span: list[int | None] | None = None) -> str:
    """A closed gate's forecast in words: the number of traces, or why there is none, and the
    forecast's range when there is one (``span``: [low, high], high None beyond 100·n).

    >>> needed_text(1200, "insufficient_evidence")
    'about 1,200 more calibration-eligible traces are expected to be needed'
    >>> needed_text(1200, "insufficient_evidence", short=True)
    '~1,200 more traces'
    >>> needed_text(None, "too_early_to_tell", short=True)
    'too early to tell how many more traces are needed'
    >>> needed_text(None, "evidence_too_thin", short=True, span=[120, 900])
    'how many more traces is too uncertain to say (likely 120–900)'
    """
    if needed is not None:
        text = (f"~{needed:,} more traces" if short else
                f"about {needed:,} more calibration-eligible traces are expected to be needed")
    else:
        text = NO_NUMBER.get(reason or "", "no forecast of how many more traces are needed")
    if span is not None and span[0] is not None:
        text += (f" (likely {span[0]:,}–{span[1]:,})" if span[1] is not None
                 else f" (likely over {span[0]:,})")
    return text


def explain(code: str | None) -> str:
    """The explanation of a deferral or gate code ("" for None, the code itself if unknown)."""
    if code is None:
        return ""
    return DEFERRAL_REASONS.get(code) or GATE_REASONS.get(code) or code


def splits_text(manifest: dict[str, object]) -> str:
    """How a fit used its traces, e.g. "7,022 train and validation by 5-fold cross-fitting,
    2,981 calibration" (or "... train, ... validation, ..." for a single split)."""
    n_train, n_val, n_cal = (int(str(manifest.get(k) or 0)) for k in
                             ("n_train", "n_validation", "n_cal"))
    folds = int(str(manifest.get("acceptor_folds") or 1))
    if folds > 1:
        return (f"{n_train:,} train and validation by {folds}-fold cross-fitting, "
                f"{n_cal:,} calibration")
    return f"{n_train:,} train, {n_val:,} validation, {n_cal:,} calibration"
