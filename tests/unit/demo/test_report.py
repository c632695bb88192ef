"""The demo's numbers and its HTML report: intervals, per-day counts, escaping, offline."""

from __future__ import annotations

from pathlib import Path

import orjson

from tracer_stream.demo.ledger import Ledger, clopper_pearson
from tracer_stream.demo.refits import Certificate, RefitResult
from tracer_stream.demo.report import write_report
from tracer_stream.demo.results import DemoResult


def _ledger() -> Ledger:
    ledger = Ledger()
    for i in range(10):
        ledger.add(f"a{i}", 1, "<b>x</b>")
        ledger.on_label({"request_id": f"a{i}", "label": "<b>x</b>", "source": "llm"})
        ledger.on_trace({"request_id": f"a{i}", "audit": False, "cost_usd": 0.002})
    for i in range(10):
        ledger.add(f"b{i}", 2, "<b>x</b>" if i < 8 else "y&z", gold="g")
        answer = "<b>x</b>" if i != 9 else "wrong"
        ledger.on_label({"request_id": f"b{i}", "label": answer, "source": "surrogate",
                         "model_version": "v1"})
        ledger.on_label({"request_id": f"b{i}", "label": "dupe", "source": "llm"})  # redelivery
    ledger.on_trace({"request_id": "b0", "audit": True, "cost_usd": 0.002})
    ledger.on_trace({"request_id": "b0", "audit": True, "cost_usd": 0.002})  # redelivery
    ledger.add("c0", 2, "y&z")
    ledger.on_dead_letter({"request_id": "c0", "reason": "replay_unknown_text"})
    return ledger


def test_ledger_counts_first_answers_and_one_call_per_request() -> None:
    ledger = _ledger()
    day1, day2 = ledger.day(1), ledger.day(2)
    assert (day1.sent, day1.handled, day1.deferred, day1.llm_calls) == (10, 0, 10, 10)
    assert abs(day1.llm_cost_usd - 0.02) < 1e-9
    assert (day2.sent, day2.answered, day2.dead_letters, day2.settled) == (11, 10, 1, 11)
    assert (day2.handled, day2.handled_agree, day2.llm_calls, day2.audits) == (10, 8, 1, 1)
    assert day2.coverage == 1.0 and day2.handled_agreement == 0.8
    assert day2.gold_accuracy == 0.0
    assert ledger.traces_seen == 11
    labels = {s.label: s for s in ledger.per_label({2})}
    assert labels["y&z"].requests == 2 and labels["y&z"].handled_agree == 0


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    low, high = clopper_pearson(10, 10)
    assert high == 1.0 and 0.69 < low < 0.70
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and 0.30 < high < 0.31


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    ledger = _ledger()
    cert = Certificate("v1", 0.95, 0.03, "l2d", 0.6, 0.97, 10, 3)
    result = DemoResult(
        task="t<1>", alpha=0.95, delta=0.05, cost_per_call=0.002,
        settings={"dataset": "<img src=x onerror=alert(1)>"},
        days=[ledger.day(1), ledger.day(2)], total=ledger.total(),
        refits=[RefitResult(1, "promoted", "<reason>", "v1", 1.5, cert)],
        certificates={"v1": cert}, labels=ledger.per_label({2}))
    html = write_report(result, tmp_path / "r" / "report.html").read_text()
    assert html.count("<svg") == 4
    for raw in ("<b>x</b>", "<img", "<reason>", "t<1>"):
        assert raw not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "y&amp;z" in html
    assert "<script" not in html and "src=" not in html.replace("&lt;img src=x", "")
    assert "did NOT stay" in html  # day 2's handled agreement 0.8 < α
    data = orjson.loads(result.write_json(tmp_path / "results.json").read_bytes())
    assert data["days"][1]["handled_agreement"] == 0.8
    assert data["handled_agreement_at_least_alpha_every_day"] is False
