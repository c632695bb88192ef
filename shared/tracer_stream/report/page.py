"""The report document rendered as one self-contained HTML page.

Inline CSS and inline SVG only: no scripts, no fonts or images to fetch, so the file opens
offline and can be mailed around. Every value that comes from data (trace texts, labels, ids,
model names) passes through :func:`html.escape`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .style import CSS
from .svg import Series, hbar_chart, line_chart
from .texts import explain, needed_text, splits_text

__all__ = ["render_html"]


def esc(value: Any) -> str:
    """Escaped text of any value (None → "—")."""
    return "—" if value is None else escape(str(value), quote=True)


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}%}"


def num(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def thr(t: float | str | None) -> str:
    return "—" if t is None else "−∞ (accept all)" if t == "-inf" else esc(
        f"{t:.4f}" if isinstance(t, float) else t)


def bar(x: float | None, cls: str = "") -> str:
    width = 0.0 if x is None else max(0.0, min(1.0, x)) * 100
    return f'<span class="bar {cls}"><span style="width:{width:.1f}%"></span></span>{pct(x)}'


def render_html(doc: dict[str, Any]) -> str:
    """The page for a document built by :func:`~tracer_stream.report.build_report`."""
    cert = doc["certificate"]
    title = f"tracer-stream report — α = {cert['alpha']:g}"
    body = "".join([_header(doc), _certificate(doc), _frontier(doc), _labels(doc),
                    _deferrals(doc), _pairs(doc), _disagreements(doc),
                    f'<footer>{esc(doc["schema"])} · generated {esc(doc["generated_at"])} · '
                    "the same content is available as JSON (<code>--json</code>)</footer>"])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def _header(doc: dict[str, Any]) -> str:
    m = doc["model"]
    held = doc["heldout"]
    source = f" from {esc(doc['source'])}" if doc.get("source") else ""
    return (f"<header><h1>Routing report</h1>"
            f'<p class="meta">model {esc(m["version"] or "(unversioned)")} · created '
            f'{esc(m["created_at"])} · embedder <code>{esc(m["embedder"])}</code> · '
            f'{num(m["n_labels"])} labels · fitted on {num(m["n_traces"])} traces '
            f'({esc(splits_text(m))})</p>'
            f'<p class="meta">held-out evaluation on {num(held["n"])} traces{source}</p></header>')


def _certificate(doc: dict[str, Any]) -> str:
    c = doc["certificate"]
    cal = c["calibration"]
    held = doc["heldout"]
    if c["certified"]:
        headline = (f"Certified: with confidence {pct(1 - c['delta'])} (δ = {c['delta']:g}), "
                    f"the surrogate agrees with the teacher on at least {pct(c['alpha'])} of "
                    "the traffic it handles.")
        cls = "ok"
        extra = (f"<dt>threshold</dt><dd>{thr(c['threshold'])}</dd>"
                 + "".join(f"<dt>stage {i + 1}</dt><dd>{esc(s['member'])}: threshold "
                           f"{thr(s['threshold'])}, {num(s['n_accepted'])} accepted, "
                           f"p = {esc(_p(s['p_value']))}</dd>"
                           for i, s in enumerate(c["stages"]) if len(c["stages"]) > 1))
    else:
        needed = esc(needed_text(c["traces_needed"], c["reason"]))
        headline = (f"Gate closed at α = {c['alpha']:g}: {esc(c['reason_text'])}. "
                    f"Every input goes to the teacher; {needed}.")
        cls = "closed"
        extra = f"<dt>reason</dt><dd><code>{esc(c['reason'])}</code></dd>"
    return (f'<section id="certificate"><h2>Certificate</h2><div class="box {cls}">'
            f'<div class="headline">{headline}</div><dl class="facts">'
            f"<dt>α, δ</dt><dd>{c['alpha']:g}, {c['delta']:g} "
            f"(an exact test needs ≥ {num(c['n_min'])} accepted calibration traces)</dd>"
            f"<dt>family</dt><dd>{esc(c['family'])}</dd>"
            f"<dt>surrogate</dt><dd>{esc(', '.join(c['surrogate']))}</dd>{extra}"
            f"<dt>calibration</dt><dd>{num(cal['n_accepted'])} of {num(cal['n_cal'])} handled "
            f"(coverage {pct(cal['coverage'])}), {num(cal['disagreements'])} disagreements "
            f"(agreement {pct(cal['agreement'])})</dd>"
            f"<dt>held-out</dt><dd>{num(held['n_accepted'])} of {num(held['n'])} handled "
            f"(coverage {pct(held['coverage'])}), {num(held['disagreements'])} disagreements "
            f"(agreement {pct(held['agreement'])})</dd></dl></div></section>")


def _p(p: float | None) -> str:
    return "—" if p is None else f"{p:.3g}"


def _frontier(doc: dict[str, Any]) -> str:
    rows = doc["frontier"]
    alphas = [r["alpha"] for r in rows]
    x_range = (min(alphas), max(alphas))

    def series(name: str, key: str, color: str, dashed: bool = False) -> Series:
        return Series(name, color, [(r["alpha"], r[key] or 0.0, r["certified"]) for r in rows],
                      dashed)

    coverage = line_chart([series("calibration", "calibration_coverage", "#2563eb"),
                           series("held-out", "heldout_coverage", "#7c3aed", True)],
                          x_label="target agreement α", y_label="coverage", x_range=x_range)
    agreements = [v for r in rows for v in (r["calibration_agreement"], r["heldout_agreement"])
                  if v is not None]
    low = max(0.0, min([*agreements, *alphas]) - 0.05)

    def measured(name: str, key: str, color: str, dashed: bool = False) -> Series:
        return Series(name, color, [(r["alpha"], r[key], True) for r in rows
                                    if r[key] is not None], dashed)

    agree = line_chart(
        [measured("calibration", "calibration_agreement", "#2563eb"),
         measured("held-out", "heldout_agreement", "#7c3aed", True)],
        x_label="target agreement α (dashed grey: agreement = α)", y_label="agreement",
        x_range=x_range, y_range=(low, 1.0), diagonal=True)
    table = "".join(
        f'<tr><td class="num">{r["alpha"]:g}</td><td>{_status(r["certified"])}</td>'
        f'<td>{esc(r["family"])}</td><td class="num">{thr(r["threshold"])}</td>'
        f'<td class="num">{pct(r["calibration_coverage"])}</td>'
        f'<td class="num">{pct(r["calibration_agreement"])}</td>'
        f'<td class="num">{pct(r["heldout_coverage"])}</td>'
        f'<td class="num">{pct(r["heldout_agreement"])}</td><td>{_needed(r)}</td></tr>'
        for r in rows)
    return ('<section id="frontier"><h2>Frontier over α</h2><p class="muted">Coverage the gate '
            "certified at each target (filled: certified, hollow: gate closed) and the "
            f'agreement on handled traffic.</p><div class="charts">{coverage}{agree}</div>'
            '<table><tr><th class="num">α</th><th>gate</th><th>family</th>'
            '<th class="num">threshold</th><th class="num">calibration coverage</th>'
            '<th class="num">calibration agreement</th><th class="num">held-out coverage</th>'
            '<th class="num">held-out agreement</th><th>to certify</th></tr>'
            f"{table}</table></section>")


def _status(certified: bool) -> str:
    return ('<span class="badge ok">certified</span>' if certified
            else '<span class="badge warn">closed</span>')


def _needed(r: dict[str, Any]) -> str:
    if r["certified"]:
        return "—"
    more = esc(needed_text(r["traces_needed"], r["reason"], short=True))
    return f'{more} <span class="muted">({esc(r["reason"])})</span>'


_STATUS = {  # status: (badge class, badge text, explanation)
    "ready": ("ok", "ready", "a per-label test would pass now"),
    "below_target": ("bad", "below α", "agreement below α at every threshold"),
    "not_predicted": ("", "not predicted", "the surrogate never predicts this label here"),
    "unseen_label": ("bad", "unseen", "the model was never trained on this label"),
}


def _to_certify(t: dict[str, Any]) -> str:
    if t["status"] in ("needs_traces", "too_little_data"):
        approx = "~" if t["status"] == "needs_traces" else "≥ "
        cls, text = "warn", f"{approx}{num(t['more_traces'])} traces"
        detail = f"{approx}{t['more_label_traces']:,} more traces predicted as this label"
    else:
        cls, text, detail = _STATUS[t["status"]]
    return f'<span class="badge {cls}" title="{esc(detail)}">{text}</span>'


def _labels(doc: dict[str, Any]) -> str:
    alpha = doc["certificate"]["alpha"]
    rows = "".join(
        f'<tr><td>{esc(r["label"])}</td><td class="num" title="{pct(r["share"])} of the '
        f'held-out traffic">{num(r["n"])}</td><td class="num">{num(r["handled"])}</td>'
        f"<td>{bar(r['coverage'])}</td>"
        f"<td>{bar(r['agreement'], 'agree' if (r['agreement'] or 0) >= alpha else 'low')}</td>"
        f'<td class="num">{num(r["disagreements"])}</td><td class="num">{num(r["deferred"])}</td>'
        f'<td class="wrap">'
        f"{esc(', '.join(f'{k} {v}' for k, v in r['deferral_reasons'].items()) or None)}</td>"
        f'<td class="num">{num(r["predicted"])}</td><td>{_to_certify(r["to_certify"])}</td></tr>'
        for r in doc["labels"])
    return ('<section id="labels"><h2>Per label</h2><p class="muted">By teacher label, on '
            "held-out traces. Agreement is on handled traffic. <em>To certify</em> forecasts "
            f"the per-label test (δ / L = {doc['per_label_delta']:.2g}) on the rows "
            "the surrogate predicts as the label: how many more traces (at the label's share "
            "of the traffic) it would take; hover a badge for details.</p>"
            '<div class="scroll"><table><tr><th>label</th><th class="num">n</th>'
            '<th class="num">handled</th><th>coverage</th>'
            '<th>agreement</th><th class="num">disagree</th><th class="num">deferred</th>'
            '<th>deferral reasons</th><th class="num">predicted</th><th>to certify</th></tr>'
            f"{rows}</table></div></section>")


def _deferrals(doc: dict[str, Any]) -> str:
    items = doc["deferral_reasons"]
    if not items:
        return ('<section id="deferrals"><h2>Deferral reasons</h2>'
                "<p>Nothing was deferred.</p></section>")
    chart = hbar_chart([(r["reason"], r["count"]) for r in items])
    lines = "".join(f"<li><code>{esc(r['reason'])}</code>: {num(r['count'])} "
                    f"({pct(r['share'])} of traffic): {esc(r['text'])}</li>" for r in items)
    return (f'<section id="deferrals"><h2>Deferral reasons</h2>{chart}<ul>{lines}</ul>'
            "</section>")


def _example(e: dict[str, Any], title: str) -> str:
    score = "—" if e["score"] is None else f"{e['score']:.3f}"
    why = f" · {esc(explain(e['reason']))}" if e["reason"] else ""
    return (f"<div><h3>{title}</h3><div class=\"muted\">id {esc(e['id'])} · score {score} · "
            f"surrogate says <b>{esc(e['surrogate'])}</b>{why}</div>"
            f'<div class="text">{esc(e["text"])}</div></div>')


def _pairs(doc: dict[str, Any]) -> str:
    pairs = doc["contrastive_pairs"]
    cards = "".join(
        f'<div class="card"><h3>{esc(p["label"])} <span class="muted">· cosine '
        f'{p["similarity"]:.3f}</span></h3><div class="pair">'
        f'{_example(p["handled"], "handled")}{_example(p["deferred"], "deferred")}</div></div>'
        for p in pairs)
    return ('<section id="pairs"><h2>Contrastive pairs</h2><p class="muted">For each label, a '
            "handled and a deferred trace of that label (teacher) that are close in embedding "
            "space: where the boundary of what the surrogate handles runs.</p>"
            f'<div class="cards">{cards or "<p>No label has both handled and deferred traces.</p>"}'
            "</div></section>")


def _disagreements(doc: dict[str, Any]) -> str:
    d = doc["disagreements"]
    cards = []
    for c in d["cards"]:
        badge = ('<span class="badge bad">handled: shipped to the user</span>' if c["handled"]
                 else '<span class="badge">deferred: caught by the gate</span>')
        alts = "".join(f"<li>{bar(a['probability'])} {esc(a['label'])}</li>"
                       for a in c["alternatives"])
        rank = ("the model never saw the teacher's label" if c["teacher_rank"] is None
                else f"teacher's label ranked {c['teacher_rank']} "
                     f"(p = {c['teacher_probability']:.3f})")
        score = "—" if c["score"] is None else f"{c['score']:.3f}"
        cards.append(
            f'<div class="card"><h3>{badge}</h3><div class="text">{esc(c["text"])}</div>'
            f"<div>teacher <b>{esc(c['teacher'])}</b> · surrogate <b>{esc(c['surrogate'])}</b>"
            f'</div><div class="muted">id {esc(c["id"])} · score {score} · {rank}</div>'
            f'<ul class="alts">{alts}</ul></div>')
    return ('<section id="disagreements"><h2>Disagreement cards</h2><p class="muted">'
            f"{num(d['handled'])} handled traces disagree with the teacher (errors shipped), "
            f"{num(d['deferred'])} deferred ones would have (caught by the gate); showing "
            f"{num(d['shown'])}, with the surrogate's top alternatives.</p>"
            f'<div class="cards">{"".join(cards) or "<p>No disagreements.</p>"}</div></section>')
