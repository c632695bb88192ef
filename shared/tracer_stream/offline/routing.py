"""``route`` and ``report`` on files: a model, a trace file, decisions or an HTML/JSON report."""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tracer_stream.learn import Artefact
from tracer_stream.report import build_report, render_html, render_json

from .models import load_model, verify_keys
from .progress import Feedback
from .traces import TraceFile, read_traces
from .vectors import model_inputs

__all__ = ["ModelRequest", "report_file", "route_file"]


@dataclass
class ModelRequest:
    """A model file, the traces to run it on, and how to embed them."""

    model: Path
    traces: Path
    alpha: float | None = None
    embeddings: Path | None = None
    embedder: str | None = None
    key_env: str | None = None
    use_cache: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelRequest:
        """From parsed options whose names match the fields (see :mod:`.options`)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def load(self, feedback: Feedback, *, require_labels: bool
             ) -> tuple[Artefact, TraceFile, np.ndarray]:
        """The verified model, the traces and their embeddings (checked against the model)."""
        art = load_model(self.model, verify_keys(self.key_env), self.key_env)
        art.policy(self.alpha)  # an α that is not on the frontier fails before any work
        traces = read_traces(self.traces, require_labels=require_labels)
        X = model_inputs(art, traces.texts, embeddings=self.embeddings, embedder=self.embedder,
                         feedback=feedback, use_cache=self.use_cache)
        return art, traces, X


def route_file(req: ModelRequest, out: Path | None, feedback: Feedback) -> dict[str, Any]:
    """Route every trace and write one JSON line per input line (``out`` None: stdout).

    Each output line has the input's ``id`` and ``line``, the routed ``label``, ``accepted``
    (the surrogate answers), the acceptor ``score`` (null for novel inputs) and the deferral
    ``reason`` (null when accepted); ``teacher`` is copied when the input had a label.
    Returns a summary: counts, coverage, reasons, and agreement where teacher labels exist.
    """
    art, traces, X = req.load(feedback, require_labels=False)
    res = art.route(X, req.alpha)
    lines = []
    for i, trace_id in enumerate(traces.ids):
        score = float(res.scores[i])
        record: dict[str, Any] = {
            "id": trace_id, "line": traces.lines[i], "label": res.labels[i],
            "accepted": bool(res.accepted[i]), "score": None if math.isnan(score) else score,
            "reason": res.reasons[i],
        }
        if traces.labels[i] is not None:
            record["teacher"] = traces.labels[i]
        lines.append(orjson.dumps(record))
    payload = b"\n".join(lines) + b"\n"
    if out is None:
        sys.stdout.write(payload.decode())
        sys.stdout.flush()
    else:
        _write(out, payload)
    return _route_summary(res.accepted.tolist(), res.labels, res.reasons, traces.labels,
                          art.policy(req.alpha).alpha)


def _route_summary(accepted: list[bool], labels: list[str], reasons: list[str | None],
                   teacher: list[str | None], alpha: float) -> dict[str, Any]:
    n_acc = sum(accepted)
    judged = [(lab, t) for lab, t, a in zip(labels, teacher, accepted, strict=True)
              if a and t is not None]
    agree = sum(lab == t for lab, t in judged)
    return {
        "alpha": alpha, "n": len(accepted), "accepted": n_acc,
        "coverage": n_acc / len(accepted) if accepted else 0.0,
        "reasons": dict(Counter(r for r in reasons if r is not None).most_common()),
        "labelled_accepted": len(judged),
        "agreement": agree / len(judged) if judged else None,
    }


def report_file(req: ModelRequest, *, html: Path | None, json: Path | None,
                feedback: Feedback) -> dict[str, Any]:
    """Build the report on held-out traces and write the HTML and/or JSON file."""
    art, traces, X = req.load(feedback, require_labels=True)
    doc = build_report(art, X, traces.labelled, texts=traces.texts, ids=traces.ids,
                       alpha=req.alpha, source=str(req.traces))
    if html is not None:
        _write(html, render_html(doc).encode())
    if json is not None:
        _write(json, render_json(doc).encode())
    return doc


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
