"""Fixtures of the offline command tests: a private cache and key, one fitted model per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import (
    EMBEDDER,
    HOSTILE_LABEL,
    KEY_ENV,
    MODEL_KEY,
    SCRIPT_TEXT,
    Fitted,
    make_traces,
    ours,
    run_cli,
    write_jsonl,
)


@pytest.fixture(autouse=True)
def _offline_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                 ) -> None:
    monkeypatch.setenv("TRACER_STREAM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv(KEY_ENV, MODEL_KEY.seed_b64)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fitted]:
    d = tmp_path_factory.mktemp("fitted")
    train = write_jsonl(d / "train.jsonl", ours(make_traces(1200, seed=1)))
    held = [*make_traces(400, seed=2), (SCRIPT_TEXT, HOSTILE_LABEL),
            ("<b>bold</b> & friends", "<b>new</b> label")]
    heldout = write_jsonl(d / "heldout.jsonl", ours(held))
    model = d / "model.tsm"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACER_STREAM_CACHE_DIR", str(d / "cache"))
        mp.setenv(KEY_ENV, MODEL_KEY.seed_b64)
        run = run_cli("fit", train, "--embedder", EMBEDDER, "--alpha", "0.9", "--alphas",
                      "0.85,0.95", "--zoo", "fast", "--out", model)
    assert run.code == 0, run.err
    yield Fitted(d, train, heldout, model, run)
