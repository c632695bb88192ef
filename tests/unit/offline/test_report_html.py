"""The HTML report: escaped, self-contained, and showing what the JSON holds."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tracer_stream.embed import load_embedder
from tracer_stream.learn import Artefact
from tracer_stream.offline.traces import read_traces
from tracer_stream.report import build_report, render_html, render_json

from .helpers import EMBEDDER, HOSTILE_LABEL, SCRIPT_TEXT, TRUSTED, Fitted, run_cli

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def everything(fitted: Fitted) -> tuple[dict[str, Any], str]:
    """A report that shows every disagreement and pair, and its HTML."""
    art = Artefact.from_bytes(fitted.model.read_bytes(), TRUSTED)
    traces = read_traces(fitted.heldout)
    X = load_embedder(EMBEDDER).embed(traces.texts)
    doc = build_report(art, X, traces.labelled, texts=traces.texts, ids=traces.ids,
                       max_cards=10_000, max_pairs=10_000)
    return doc, render_html(doc)


def test_every_text_and_label_is_escaped(everything: tuple[dict[str, Any], str]) -> None:
    doc, page = everything
    assert "<script" not in page.lower() and "onerror=" not in page.replace("onerror=alert", "")
    # the script trace has a label the model never saw, so it is always a disagreement card
    assert any(c["text"] == SCRIPT_TEXT for c in doc["disagreements"]["cards"])
    assert html.escape(SCRIPT_TEXT) in page
    assert html.escape(HOSTILE_LABEL) in page and HOSTILE_LABEL not in page
    assert "pin &amp; &lt;code&gt;" in page and "pin & <code>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; friends" in page and "<b>bold</b>" not in page


def test_page_is_self_contained(everything: tuple[dict[str, Any], str]) -> None:
    _, page = everything
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<style>" in page and page.count("<svg") >= 3  # coverage, agreement, deferrals
    assert not re.search(r"<(link|script|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert not re.search(r"<[^>]*\s(src|href)=", page) and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}


def _shown(page: str, value: Any) -> bool:
    return html.escape(str(value), quote=True) in page


def test_json_and_html_show_the_same_content(fitted: Fitted, tmp_path: Path) -> None:
    out_html, out_json = tmp_path / "r.html", tmp_path / "r.json"
    run = run_cli("report", fitted.model, "--traces", fitted.heldout, "--html", out_html,
                  "--json", out_json, "-q")
    assert run.code == 0, run.err
    doc, page = json.loads(out_json.read_text()), out_html.read_text()
    assert render_json(doc) == out_json.read_text()
    cert = doc["certificate"]
    assert f"{cert['calibration']['n_accepted']:,} of {cert['calibration']['n_cal']:,}" in page
    held = doc["heldout"]
    assert f"{held['n_accepted']:,} of {held['n']:,} handled" in page
    assert ("Certified:" in page) == cert["certified"]
    for row in doc["frontier"]:
        assert f'<td class="num">{row["alpha"]:g}</td>' in page
    for row in doc["labels"]:
        cells = (f'<tr><td>{html.escape(row["label"])}</td><td class="num" '
                 f'title="{row["share"]:.1%} of the held-out traffic">{row["n"]:,}</td>')
        assert cells in page
    for r in doc["deferral_reasons"]:
        assert f"<code>{r['reason']}</code>: {r['count']:,}" in page
    for pair in doc["contrastive_pairs"]:
        assert _shown(page, pair["handled"]["text"]) and _shown(page, pair["deferred"]["text"])
    cards = doc["disagreements"]["cards"]
    for card in cards:
        assert _shown(page, card["text"]) and _shown(page, card["id"])
    assert page.count('<div class="card">') == len(cards) + len(doc["contrastive_pairs"])


@pytest.mark.parametrize(("needed", "reason", "expected"), [
    (1234, "insufficient_evidence", "about 1,234 more calibration-eligible traces"),
    (None, "agreement_below_target", "more traces of the same kind are not expected to help"),
    (None, "too_early_to_tell", "too early to tell how many more traces"),
])
def test_closed_gate_says_why_and_what_is_needed(everything: tuple[dict[str, Any], str],
                                                 needed: int | None, reason: str,
                                                 expected: str) -> None:
    doc = json.loads(render_json(everything[0]))
    doc["certificate"].update(certified=False, threshold=None, reason=reason,
                              reason_text="not <yet> enough", traces_needed=needed)
    page = render_html(doc)
    assert "Gate closed at α = " in page and expected in page
    assert "not &lt;yet&gt; enough" in page and "Certified:" not in page
