"""The demo's verdict: LLM calls avoided count each audited answer once (it still cost a call),
a run where nothing was certified says so and why, the settings table shows no ``None``, and a
noisy teacher changes the teacher's labels but keeps the truth."""

from __future__ import annotations

import random
from pathlib import Path

from tracer_stream.demo.ledger import Ledger
from tracer_stream.demo.live import ViewContext, headline
from tracer_stream.demo.refits import RefitResult
from tracer_stream.demo.report import render_report
from tracer_stream.demo.results import DemoResult
from tracer_stream.demo.run import with_noisy_teacher
from tracer_stream.demo.workload import Request

CTX = ViewContext("t", 0.9, 0.05, 0.01, {})


def _handled_day(audited: int, handled: int = 10) -> Ledger:
    ledger = Ledger()
    for i in range(handled):
        ledger.add(f"r{i}", 1, "x")
        ledger.on_label({"request_id": f"r{i}", "label": "x", "source": "surrogate",
                         "model_version": "v1"})
    for i in range(audited):
        ledger.on_trace({"request_id": f"r{i}", "audit": True, "cost_usd": 0.01})
    return ledger


def test_llm_calls_avoided_do_not_count_audited_answers() -> None:
    total = _handled_day(audited=3).total()
    assert (total.handled, total.handled_audited, total.llm_calls) == (10, 3, 3)
    assert total.llm_calls_avoided == 7
    assert abs(total.saved_usd(0.01) - 0.07) < 1e-12
    text = headline([total], total, CTX).plain
    assert "7 LLM calls avoided" in text and "$0.07 saved" in text


def _nothing_certified(refits: list[RefitResult]) -> tuple[Ledger, DemoResult]:
    ledger = Ledger()
    for day in (1, 2):
        for i in range(5):
            rid = f"d{day}-{i}"
            ledger.add(rid, day, "x")
            ledger.on_label({"request_id": rid, "label": "x", "source": "llm",
                             "reason": "no_model"})
            ledger.on_trace({"request_id": rid, "audit": False, "cost_usd": 0.01})
    result = DemoResult(task="t", alpha=0.9, delta=0.05, cost_per_call=0.01,
                        settings={"dataset": None, "days": 2},
                        days=[ledger.day(1), ledger.day(2)], total=ledger.total(),
                        refits=refits)
    return ledger, result


def test_headline_says_plainly_that_nothing_was_certified_and_why() -> None:
    refused = RefitResult(1, "not_certified", "agreement_below_target", None, 1.0, None)
    _, result = _nothing_certified([refused])
    text = headline(result.days, result.total, CTX, result.refits).plain
    assert text.startswith("Nothing was certified")
    assert "agreement_below_target" in text and "LLM calls avoided" not in text
    html = render_report(result)
    assert "Nothing was certified" in html and "headline warn" in html
    assert "stayed at or above" not in html


def test_headline_without_any_refit_says_one_day_is_not_enough() -> None:
    ledger = _handled_day(audited=0, handled=0)
    ledger.add("a", 1, "x")
    ledger.on_label({"request_id": "a", "label": "x", "source": "llm"})
    day = ledger.day(1)
    assert "there was no refit" in headline([day], ledger.total(), CTX, []).plain


def test_settings_table_shows_no_none(tmp_path: Path) -> None:
    _, result = _nothing_certified([])
    html = render_report(result)
    settings = html.split("<h2>Settings</h2>")[1]
    assert "dataset" in settings and "None" not in settings


def test_noisy_teacher_relabels_distinct_texts_consistently_and_keeps_the_truth() -> None:
    requests = [Request(f"text {i % 50}", "a" if i % 2 else "b") for i in range(200)]
    noisy = with_noisy_teacher(requests, ["a", "b", "c"], 0.5, random.Random(1))
    changed = {r.text for r, n in zip(requests, noisy, strict=True) if r.label != n.label}
    assert 10 <= len(changed) <= 40  # about half of the 50 distinct texts
    answers: dict[str, str] = {}
    for r, n in zip(requests, noisy, strict=True):
        assert n.gold == r.label
        assert answers.setdefault(n.text, n.label) == n.label  # one answer per text
