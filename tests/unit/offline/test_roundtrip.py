"""fit → route → report through the command line, and scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracer_stream.learn import Artefact

from .helpers import (
    EMBEDDER,
    TRUSTED,
    Fitted,
    make_traces,
    ours,
    reference,
    run_cli,
    write_jsonl,
)

pytestmark = pytest.mark.unit


def _load(model: Path) -> Artefact:
    return Artefact.from_bytes(model.read_bytes(), TRUSTED)


def test_fit_prints_the_certificate_the_model_records(fitted: Fitted) -> None:
    m = _load(fitted.model).manifest
    out = fitted.fit.out
    assert m["alpha"] == 0.9 and [p["alpha"] for p in m["frontier"]] == [0.85, 0.9, 0.95]
    state = "CERTIFIED" if m["certified"] else f"GATE CLOSED ({m['reason']})"
    assert f"certificate at α = 0.9, δ = 0.05: {state}" in out
    assert f"calibration: {m['n_accepted']:,} of {m['n_cal']:,} traces handled" in out
    assert "fitted on 1,200 traces" in out and m["embedder"]["id"] in out
    assert f"model written to {fitted.model}" in out
    assert "embedding" in fitted.fit.err and "fitting" in fitted.fit.err  # progress on stderr


def test_route_writes_one_decision_per_line(fitted: Fitted, tmp_path: Path) -> None:
    routed = tmp_path / "routed.jsonl"
    run = run_cli("route", fitted.model, fitted.heldout, "--out", routed)
    assert run.code == 0, run.err
    rows = [json.loads(line) for line in routed.read_text().splitlines()]
    n_in = len(fitted.heldout.read_text().splitlines())
    assert len(rows) == n_in and [r["line"] for r in rows] == list(range(1, n_in + 1))
    for r in rows:
        assert set(r) == {"id", "line", "label", "accepted", "score", "reason", "teacher"}
        assert (r["reason"] is None) == r["accepted"]
    n_acc = sum(r["accepted"] for r in rows)
    assert f"{n_acc:,} answered by the surrogate" in run.out


def test_route_to_stdout_without_labels(fitted: Fitted, tmp_path: Path) -> None:
    unlabelled = write_jsonl(tmp_path / "in.jsonl", [{"request_id": "r1", "text": "pin blocked"},
                                                     {"input": "refund money back please"}])
    run = run_cli("route", fitted.model, unlabelled, "--alpha", "0.85", "-q")
    assert run.code == 0, run.err
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["id"] for r in rows] == ["r1", "line-2"] and "teacher" not in rows[0]
    assert "routed 2 lines at α = 0.85" in run.err  # the summary leaves stdout to the data


def test_report_writes_html_and_matching_json(fitted: Fitted, tmp_path: Path) -> None:
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    run = run_cli("report", fitted.model, "--traces", fitted.heldout, "--html", html,
                  "--json", js)
    assert run.code == 0, run.err
    doc = json.loads(js.read_text())
    m = _load(fitted.model).manifest
    assert doc["certificate"]["certified"] == m["certified"]
    assert doc["certificate"]["calibration"]["n_accepted"] == m["n_accepted"]
    assert doc["heldout"]["n"] == len(fitted.heldout.read_text().splitlines())
    assert [r["alpha"] for r in doc["frontier"]] == [0.85, 0.9, 0.95]
    assert {r["label"] for r in doc["labels"]} >= set(m["labels"])
    assert "written: " + str(html) in run.out


def test_report_needs_an_output(fitted: Fitted) -> None:
    run = run_cli("report", fitted.model, "--traces", fitted.heldout)
    assert run.code == 2 and "--html" in run.err


def test_reference_format_fits_the_same_model(tmp_path: Path) -> None:
    pairs = make_traces(500, seed=3)
    a = write_jsonl(tmp_path / "ours.jsonl", ours(pairs))
    b = write_jsonl(tmp_path / "ref.jsonl.gz", reference(pairs), gz=True)
    outs = []
    for src, model in ((a, tmp_path / "a.tsm"), (b, tmp_path / "b.tsm")):
        run = run_cli("fit", src, "--embedder", EMBEDDER, "--zoo", "fast", "--alpha", "0.85",
                      "--alphas", "0.8", "--out", model, "-q")
        assert run.code == 0, run.err
        outs.append(run.out.replace(str(model), "MODEL"))
    assert outs[0] == outs[1]


def test_precomputed_embeddings_round_trip(fitted: Fitted, tmp_path: Path) -> None:
    import numpy as np

    from tracer_stream.embed import load_embedder

    emb = load_embedder(EMBEDDER)
    pairs = make_traces(500, seed=4)
    train = write_jsonl(tmp_path / "t.jsonl", ours(pairs))
    X = tmp_path / "X.npy"
    np.save(X, emb.embed([t for t, _ in pairs]))
    model = tmp_path / "m.tsm"
    run = run_cli("fit", train, "--embeddings", X, "--zoo", "fast", "--alpha", "0.85",
                  "--out", model, "-q")
    assert run.code == 0, run.err
    assert "embedder precomputed/256/" in run.out
    ok = run_cli("route", model, train, "--embeddings", X, "--out", tmp_path / "o.jsonl")
    assert ok.code == 0, ok.err
    refused = run_cli("route", model, train, "--out", tmp_path / "o.jsonl")
    assert refused.code == 2 and "pass --embeddings" in refused.err


def test_scan_reports_frontier_and_label_needs(fitted: Fitted, tmp_path: Path) -> None:
    out_json = tmp_path / "scan.json"
    run = run_cli("scan", fitted.train, "--embedder", EMBEDDER, "--alpha", "0.9",
                  "--alphas", "0.8,0.95", "--json", out_json, "-q")
    assert run.code == 0, run.err
    scan = json.loads(out_json.read_text())
    assert [p["alpha"] for p in scan["frontier"]] == [0.8, 0.9, 0.95]
    assert "coverage the gate certifies at each α" in run.out
    for p in scan["frontier"]:
        assert f"{p['alpha']:>5.3g}  {'certified' if p['certified'] else 'closed'}" in run.out
    assert "ready now: " in run.out and len(scan["labels"]) == 4
    assert all("status" in r["to_certify"] for r in scan["labels"])


def test_precomputed_embeddings_with_a_declared_embedder(tmp_path: Path) -> None:
    import numpy as np

    from tracer_stream.embed import load_embedder

    pairs = make_traces(500, seed=6)
    train = write_jsonl(tmp_path / "t.jsonl", ours(pairs))
    X = tmp_path / "X.npy"
    np.save(X, load_embedder(EMBEDDER).embed([t for t, _ in pairs]))
    model = tmp_path / "m.tsm"
    run = run_cli("fit", train, "--embeddings", X, "--embedder", EMBEDDER, "--zoo", "fast",
                  "--alpha", "0.85", "--out", model, "-q")
    assert run.code == 0, run.err
    assert f"embedder {load_embedder(EMBEDDER).identity.id}" in run.out
    # the model now knows its embedder: routing embeds the texts itself
    routed = run_cli("route", model, train, "--out", tmp_path / "o.jsonl", "-q")
    assert routed.code == 0, routed.err
    wrong = run_cli("fit", train, "--embeddings", X, "--embedder", "hash:64", "-q")
    assert wrong.code == 2 and "X.npy: 256 columns, but embedder 'hash:64' produces 64" in wrong.err
