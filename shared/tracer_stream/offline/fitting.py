"""``fit`` and ``scan`` on a trace file: embeddings, one fit, the certificate per α.

``scan`` is a fit that is not saved: it reports how much of the traffic each α would certify,
how many more traces a closed gate needs, and per label (on the calibration split, which the
surrogate never trained on) how far each label is from a certificate of its own.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from tracer_stream.learn import Artefact, FitConfig, calibration_partition, fit
from tracer_stream.report import jsonable
from tracer_stream.report.analysis import label_table, route_heldout

from .progress import Feedback
from .traces import TraceFile, read_traces
from .vectors import fit_inputs

__all__ = ["FitRequest", "fit_file", "scan_file"]


@dataclass
class FitRequest:
    """What to fit on and how (the options of ``tracer-stream fit`` / ``scan``)."""

    traces: Path
    alpha: float = 0.95
    delta: float = 0.05
    alphas: tuple[float, ...] = (0.90, 0.95, 0.98)
    zoo: str = "default"
    seed: int = 0
    calibration_fraction: float = 0.3
    embeddings: Path | None = None
    embedder: str | None = None
    use_cache: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> FitRequest:
        """From parsed options whose names match the fields (see :mod:`.options`)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def config(self) -> FitConfig:
        return FitConfig(alphas=self.alphas, delta=self.delta, target_alpha=self.alpha,
                         zoo=self.zoo, seed=self.seed,
                         calibration_fraction=self.calibration_fraction)


def _fit(req: FitRequest, feedback: Feedback
         ) -> tuple[Artefact, TraceFile, np.ndarray, np.ndarray]:
    config = req.config()  # validates α, δ, zoo before any slow work
    traces = read_traces(req.traces)
    labels = traces.labelled
    feedback.note(f"read {len(traces):,} traces with {len(set(labels)):,} labels from "
                  f"{req.traces}")
    X, ref = fit_inputs(traces.texts, embeddings=req.embeddings, embedder=req.embedder,
                        feedback=feedback, use_cache=req.use_cache)
    is_cal = calibration_partition(traces.ids, req.calibration_fraction)
    with feedback.stages(f"fitting ({req.zoo} zoo)") as update:
        art = fit(X, labels, embedder=ref, config=config, is_calibration=is_cal,
                  trace_ids=traces.ids, progress=update)
    return art, traces, X, is_cal


def fit_file(req: FitRequest, feedback: Feedback) -> Artefact:
    """Fit a model on the trace file of ``req``."""
    return _fit(req, feedback)[0]


def scan_file(req: FitRequest, feedback: Feedback) -> dict[str, Any]:
    """What could be certified on this traffic: the frontier and per-label needs (JSON-able)."""
    art, traces, X, is_cal = _fit(req, feedback)
    cal = np.flatnonzero(is_cal)
    labels = traces.labelled
    view = route_heldout(art, X[cal], [labels[i] for i in cal], alpha=req.alpha)
    manifest = art.manifest
    per_label_delta = req.delta / len(art.labels)
    return dict(jsonable({
        "traces": str(req.traces), "n_traces": len(traces), "n_labels": len(art.labels),
        "n_cal": manifest["n_cal"], "embedder": art.embedder.id, "zoo": req.zoo,
        "alpha": req.alpha, "delta": req.delta, "certificate": _certificate(manifest),
        "frontier": manifest["frontier"], "per_label_delta": per_label_delta,
        "labels": label_table(view, alpha=req.alpha, delta=per_label_delta),
    }))


def _certificate(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = ("alpha", "delta", "certified", "family", "surrogate", "threshold", "n_cal",
            "n_accepted", "disagreements", "coverage", "agreement", "reason", "traces_needed")
    return {k: manifest[k] for k in keys}
