"""Interpretability data: per-label numbers, contrastive pairs, disagreement cards, reasons."""

from __future__ import annotations

import json

import pytest

from tracer_stream.learn import Artefact

pytestmark = pytest.mark.unit


def test_report_data_is_complete_and_json_able(artefact: Artefact, heldout):
    X, y = heldout
    texts = [f"text <{i}> & more" for i in range(len(y))]
    data = artefact.report_data(X, y, texts)
    json.dumps(data)
    assert data["n"] == len(y) and 0 < data["coverage"] <= 1
    assert {p["label"] for p in data["per_label"]} == set(artefact.labels)
    assert sum(p["n"] for p in data["per_label"]) == len(y)
    assert sum(p["handled"] for p in data["per_label"]) == round(data["coverage"] * len(y))
    for p in data["per_label"]:
        assert p["traces_needed"] is None or p["traces_needed"] >= 0
    assert sum(data["deferral_reasons"].values()) == len(y) - round(data["coverage"] * len(y))


def test_pairs_and_cards_point_at_real_rows(artefact: Artefact, heldout):
    X, y = heldout
    texts = [f"t{i}" for i in range(len(y))]
    data = artefact.report_data(X, y, texts)
    assert data["contrastive_pairs"], "a learnable task has handled and deferred rows per label"
    for pair in data["contrastive_pairs"]:
        h, d = pair["handled"]["row"], pair["deferred"]["row"]
        assert y[h] == y[d] == pair["label"]
        assert pair["handled"]["text"] == texts[h] and pair["deferred"]["reason"] is not None
    cards = data["disagreement_cards"]
    assert 0 < len(cards) <= 50
    for card in cards:
        assert card["teacher"] == y[card["row"]] and card["surrogate"] != card["teacher"]
        assert len(card["alternatives"]) == 3
        assert card["alternatives"][0]["probability"] >= card["alternatives"][1]["probability"]


def test_report_without_texts(artefact: Artefact, heldout):
    X, y = heldout
    data = artefact.report_data(X[:300], y[:300], None)
    assert all("text" not in c for c in data["disagreement_cards"])
