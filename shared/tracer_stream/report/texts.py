"""Plain-language explanations of the machine-readable codes a model and a report carry."""

from __future__ import annotations

__all__ = ["DEFERRAL_REASONS", "GATE_REASONS", "explain", "splits_text"]

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
    "agreement_below_target": "the surrogate agrees with the teacher less than α at every "
                              "threshold; more traces of the same kind will not help",
    "no_calibration_data": "there were no calibration traces",
    "no_label_certified": "no label could be certified on its own (per-label mode)",
}
"""Why a gate certified nothing (``GateResult.reason``)."""


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
