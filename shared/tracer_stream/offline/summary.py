"""Plain-text summaries the offline commands print: the certificate, the frontier, per-label needs.

They read the JSON-able manifest of a model (``Artefact.manifest``), so what is printed is
exactly what the model file records.
"""

from __future__ import annotations

from typing import Any

from tracer_stream.report import explain, needed_text

__all__ = ["certificate_text", "frontier_text", "label_needs_text"]


def _count(n: int, noun: str) -> str:
    """``1 label``, ``2 labels``, ``1,234 more traces``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _thr(t: float | str | None) -> str:
    if t is None:
        return "—"
    return "-inf" if t == "-inf" else f"{t:.4f}" if isinstance(t, float) else str(t)


def certificate_text(manifest: dict[str, Any]) -> str:
    """The certificate at the model's target α, in a few lines."""
    a, d = manifest["alpha"], manifest["delta"]
    lines = []
    if manifest["certified"]:
        lines += [f"certificate at α = {a:g}, δ = {d:g}: CERTIFIED",
                  f"  with confidence {1 - d:.0%} the surrogate agrees with the teacher on at "
                  f"least {a:.0%} of the traffic it handles",
                  f"  family {manifest['family']} · surrogate {', '.join(manifest['surrogate'])}"
                  f" · threshold {_thr(manifest['threshold'])}"]
    else:
        lines += [f"certificate at α = {a:g}, δ = {d:g}: GATE CLOSED ({manifest['reason']})",
                  f"  {explain(manifest['reason'])}",
                  "  every input goes to the teacher; "
                  + needed_text(manifest["traces_needed"], manifest["reason"],
                                span=manifest.get("traces_range"))]
    n_cal = manifest["n_cal"]
    if manifest["certified"]:
        lines.append(f"  calibration: {manifest['n_accepted']:,} of {n_cal:,} traces handled "
                     f"(coverage {_pct(manifest['coverage'])}), {manifest['disagreements']:,} "
                     f"disagreements (agreement {_pct(manifest['agreement'])})")
    else:
        lines.append(f"  calibration: {n_cal:,} traces")
    return "\n".join(lines)


def frontier_text(frontier: list[dict[str, Any]]) -> str:
    """One line per α of the frontier: gate, family, threshold, coverage, what is missing."""
    head = (f"  {'α':>5}  {'gate':<9}  {'family':<6}  {'threshold':>9}  {'coverage':>8}  "
            f"{'agreement':>9}  to certify")
    rows = [head]
    for p in frontier:
        cal = p["calibration"]
        if p["certified"]:
            todo = ""
        else:
            more = needed_text(p["traces_needed"], p["reason"], short=True,
                               span=p.get("traces_range"))
            todo = f"{more} ({p['reason']})"
        rows.append(f"  {p['alpha']:>5.3g}  {'certified' if p['certified'] else 'closed':<9}  "
                    f"{p['family']:<6}  {_thr(p['threshold'] if p['certified'] else None):>9}  "
                    f"{_pct(cal['coverage'] if p['certified'] else None):>8}  "
                    f"{_pct(cal['agreement'] if p['certified'] else None):>9}  {todo}".rstrip())
    return "\n".join(rows)


def label_needs_text(labels: list[dict[str, Any]], limit: int = 10) -> str:
    """Labels by readiness for a certificate of their own: ready, the closest ones, hopeless,
    and the labels the surrogate never predicts or never saw (every label is accounted for).

    >>> rows = [{"label": "a", "n": 9, "to_certify": {"status": "ready"}},
    ...         {"label": "b", "n": 4, "to_certify": {"status": "not_predicted"}},
    ...         {"label": "c", "n": 2, "to_certify": {"status": "unseen_label"}}]
    >>> print(label_needs_text(rows))
      ready now: 1 of 3 labels (a)
      never predicted by the surrogate: 1 label (b: 4 traces); it answers none of them
      not among the model's labels: 1 label (c: 2 traces); only in the calibration split
    """
    def by_status(status: str) -> list[dict[str, Any]]:
        return [r for r in labels if r["to_certify"]["status"] == status]

    ready = [r["label"] for r in by_status("ready")]
    needs = sorted(by_status("needs_traces") + by_status("too_little_data"),
                   key=lambda r: r["to_certify"]["more_traces"])
    below = [r["label"] for r in by_status("below_target")]
    lines = [f"  ready now: {len(ready)} of {len(labels)} labels"
             + (f" ({_some(ready, limit)})" if ready else "")]
    if needs:
        width = max(len(r["label"]) for r in needs[:limit])
        lines.append(f"  need more traces: {_count(len(needs), 'label')}; the closest:")
        lines += [f"    {r['label']:<{width}}  {_approx(r['to_certify'])}"
                  f"{r['to_certify']['more_traces']:,} traces "
                  f"({r['to_certify']['more_label_traces']:,} more predicted as this label)"
                  for r in needs[:limit]]
    if below:
        lines.append(f"  below α whatever the threshold: {_count(len(below), 'label')} "
                     f"({_some(below, limit)})")
    for status, what, why in (
            ("not_predicted", "never predicted by the surrogate", "it answers none of them"),
            ("unseen_label", "not among the model's labels", "only in the calibration split")):
        rows = sorted(by_status(status), key=lambda r: -r["n"])
        if rows:
            named = [f"{r['label']}: {_count(r['n'], 'trace')}" for r in rows]
            lines.append(f"  {what}: {_count(len(rows), 'label')} ({_some(named, limit)}); "
                         f"{why}")
    return "\n".join(lines)


def _approx(to_certify: dict[str, Any]) -> str:
    return "~" if to_certify["status"] == "needs_traces" else "≥ "


def _some(names: list[str], limit: int) -> str:
    return ", ".join(names[:limit]) + (" …" if len(names) > limit else "")
