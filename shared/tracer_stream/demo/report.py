"""The demo's self-contained HTML report: inline CSS and SVG, no scripts, no network, every
text escaped. Plots: coverage and LLM calls per day, handled agreement with its 95% interval
against α, and per-label coverage; tables: days, refits, labels, settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from tracer_stream.demo import svg
from tracer_stream.demo.ledger import clopper_pearson
from tracer_stream.demo.live import ViewContext, headline
from tracer_stream.demo.results import DemoResult

__all__ = ["render_report", "write_report"]

_MAX_CHART_LABELS = 45

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1180px;color:#111827;
padding:0 1rem}h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #e5e7eb}
.sub{color:#6b7280}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));
gap:1rem}.card{border:1px solid #e5e7eb;border-radius:8px;padding:.6rem}
.card h3{margin:.2rem 0 .4rem;font-size:1rem}table{border-collapse:collapse;font-size:.9rem}
td,th{border-bottom:1px solid #e5e7eb;padding:.25rem .6rem;text-align:right}
th{background:#f9fafb}td.l,th.l{text-align:left}.ok{color:#16a34a}.bad{color:#dc2626}
.headline{font-size:1.1rem;background:#f0fdf4;border-left:4px solid #16a34a;padding:.6rem 1rem}
.warn{background:#fef2f2;border-left-color:#dc2626}code{background:#f3f4f6;padding:0 .2rem}
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """Cells are escaped here; the first ``left`` columns are left-aligned."""
    def cell(tag: str, i: int, value: str) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{escape(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "–" if value is None else pattern.format(value)


def _card(title: str, body: str) -> str:
    return f'<div class="card"><h3>{escape(title)}</h3>{body}</div>'


def render_report(result: DemoResult) -> str:
    """The report as one HTML string."""
    days = result.days
    names = [f"day {d.day}" for d in days]
    agreement = [None if d.handled_agreement is None else
                 (d.handled_agreement, *d.handled_interval) for d in days]
    served = {d.day for d in days if d.handled}
    label_note = ("days the surrogate answered: " + ", ".join(str(d) for d in sorted(served))
                  if served else "no day was answered by the surrogate")
    labels = result.labels
    shown = labels[:_MAX_CHART_LABELS]
    if len(labels) > len(shown):
        label_note += f"; the {len(shown)} most frequent of {len(labels)} labels, all in the table"
    charts = "".join([
        _card("Coverage: share of requests answered by the surrogate",
              svg.bars(names, [d.coverage for d in days], fmt="{:.0%}", y_max=1.0,
                       color="#16a34a", title="coverage per day")),
        _card("LLM calls per day (deferred requests and audits)",
              svg.bars(names, [float(d.llm_calls) for d in days], fmt="{:.0f}",
                       color="#6b7280", title="LLM calls per day")),
        _card("Agreement of handled answers with the teacher (95% Clopper–Pearson)",
              svg.intervals(names, agreement, target=result.alpha,
                            title="handled agreement per day")),
        _card(f"Coverage per label ({label_note})",
              svg.hbars([s.label for s in shown], [s.coverage for s in shown],
                        [f"{s.handled}/{s.requests} handled" for s in shown],
                        title="coverage per label")),
    ])
    total = result.total
    ctx = ViewContext(result.task, result.alpha, result.delta, result.cost_per_call,
                      result.certificates)
    verdict = headline(days, total, ctx, result.refits).plain
    ok = result.handled_ok and total.handled > 0
    if total.handled:
        verdict += (f" Handled agreement {'stayed' if ok else 'did NOT stay'} at or above "
                    f"α = {result.alpha:g} on every day.")
    day_rows = [[str(d.day), str(d.sent), str(d.handled), f"{d.coverage:.1%}",
                 str(d.deferred), str(d.llm_calls), str(d.audits), f"${d.llm_cost_usd:,.2f}",
                 f"${d.saved_usd(result.cost_per_call):,.2f}", _fmt(d.handled_agreement),
                 "–" if not d.handled else "[{:.3f}, {:.3f}]".format(*d.handled_interval),
                 _fmt(d.agreement), _fmt(d.gold_accuracy),
                 ", ".join(f"{v}×{n}" for v, n in d.versions.most_common()) or "–",
                 ", ".join(f"{r} {n}" for r, n in d.reasons.most_common()) or "–"]
                for d in days]
    refit_rows = [[str(r.after_day), r.outcome, r.current or "–",
                   r.certificate.family if r.certificate else "–",
                   _fmt(r.certificate.alpha if r.certificate else None, "{:g}"),
                   _fmt(r.certificate.delta if r.certificate else None, "{:.4f}"),
                   _fmt(r.certificate.calibration_coverage if r.certificate else None, "{:.1%}"),
                   str(r.certificate.n_traces) if r.certificate else "–", f"{r.seconds:.1f}",
                   r.reason] for r in result.refits]
    label_rows = [[s.label, str(s.requests), str(s.handled), f"{s.coverage:.1%}",
                   _fmt(s.handled_agree / s.handled if s.handled else None)] for s in labels]
    settings_rows = [[k, "–" if v is None else str(v)] for k, v in result.settings.items()]
    version_rows = [[v, str(n), _fmt(k / n if n else None),
                     "[{:.3f}, {:.3f}]".format(*clopper_pearson(k, n)),
                     _fmt(result.certificates[v].calibration_coverage, "{:.1%}")
                     if v in result.certificates else "–"]
                    for v, (n, k) in result.versions.items()]
    event_rows = [[str(e.get("day", "–")), str(e.get("day_answered_before", "–")),
                   str(e.get("action", "")), str(e.get("version") or "–"),
                   str(e.get("reason", ""))] for e in result.events]
    status = "" if result.completed else " (interrupted)"
    return "".join([
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>tracer-stream demo — {escape(result.task)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>tracer-stream demo{escape(status)}</h1>",
        f'<p class="sub">task <code>{escape(result.task)}</code> · α = {result.alpha:g} · '
        f"δ = {result.delta:g} · {len(days)} day(s) · {total.sent} requests · "
        f"run time {result.wall_seconds:.0f} s</p>",
        f'<p class="headline{"" if ok else " warn"}">{escape(verdict)}</p>',
        f'<div class="grid">{charts}</div>',
        "<h2>Per day</h2>",
        _table(["day", "requests", "surrogate", "coverage", "LLM answers", "LLM calls",
                "audits", "LLM spend", "saved", "handled agreement", "95% CI",
                "all answers agreement", "accuracy vs gold", "versions served",
                "why deferred"], day_rows),
        "<p class=\"sub\">Agreement is measured by the demo itself against the teacher label "
        "it knows for every request. LLM calls include the audit calls (a random ρ share of "
        "requests is also sent to the LLM to watch the surrogate live).</p>",
        "<h2>Refits (one per day boundary)</h2>",
        _table(["after day", "outcome", "current", "family", "certified α", "δ of this test",
                "calibration coverage", "traces", "seconds", "reason"], refit_rows, left=0)
        if refit_rows else "<p>No refit (a single day).</p>",
        "<h2>Versions served</h2>",
        _table(["version", "handled", "handled agreement", "95% CI", "calibration coverage"],
               version_rows) if version_rows else "<p>No version answered a request.</p>",
        "<h2>Registry events (promotions, gate closures, drift alarms)</h2>",
        _table(["day", "requests of the day answered before", "action", "version", "reason"],
               event_rows, left=0)
        if event_rows else "<p>None.</p>",
        "<h2>Per label</h2>",
        _table(["label", "requests", "handled", "coverage", "handled agreement"], label_rows),
        "<h2>Settings</h2>", _table(["setting", "value"], settings_rows, left=2),
        "</body></html>",
    ])


def write_report(result: DemoResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result), encoding="utf-8")
    return path
