"""Interpretability reports: one document, rendered as a self-contained HTML page or as JSON.

>>> from tracer_stream.report import build_report, render_html, render_json  # doctest: +SKIP
>>> doc = build_report(artefact, X_heldout, y_heldout, texts=texts)          # doctest: +SKIP
>>> Path("report.html").write_text(render_html(doc))                        # doctest: +SKIP

See ``docs/offline-cli.md`` (``tracer-stream report``) for what the sections mean.
"""

from .document import SCHEMA, build_report, jsonable, render_json
from .page import render_html
from .texts import DEFERRAL_REASONS, GATE_REASONS, explain, needed_text

__all__ = ["DEFERRAL_REASONS", "GATE_REASONS", "SCHEMA", "build_report", "explain", "jsonable",
           "needed_text", "render_html", "render_json"]
