"""Bad input files, foreign or tampered models, mismatched embeddings: clear errors, exit 2."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tracer_stream.errors import ConfigError
from tracer_stream.offline.traces import read_traces
from tracer_stream.signing import SigningKey

from .helpers import (
    EMBEDDER,
    KEY_ENV,
    MODEL_KEY,
    Fitted,
    make_traces,
    ours,
    run_cli,
    write_jsonl,
)

pytestmark = pytest.mark.unit

_GOOD = '{"text": "card never came", "label": "card_arrival"}\n'


@pytest.mark.parametrize(("content", "line", "message"), [
    (_GOOD + _GOOD + '{"text": "broken", "label": \n', 3, "not valid JSON"),
    (_GOOD + '{"text": "no label here"}\n', 2, "no teacher label"),
    (_GOOD + '\n{"label": "card_arrival"}\n', 3, "no text"),
    ('["a", "list"]\n', 1, "expected a JSON object"),
    (_GOOD + '{"text": ["not", "a", "string"], "label": "x"}\n', 2, "'text' must be a string"),
    (_GOOD + '{"input": "x", "teacher": ""}\n', 2, "the teacher label is empty"),
])
def test_bad_trace_lines_are_named(tmp_path: Path, content: str, line: int, message: str
                                   ) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    run = run_cli("fit", path, "--embedder", EMBEDDER, "-q")
    assert run.code == 2
    assert f"{path}:{line}: {message}" in run.err
    with pytest.raises(ConfigError) as info:
        read_traces(path)
    assert info.value.context == {"path": str(path), "line": line}


def test_bad_json_in_gzip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress((_GOOD * 4 + "{oops\n").encode()))
    run = run_cli("scan", path, "--embedder", EMBEDDER, "-q")
    assert run.code == 2 and f"{path}:5: not valid JSON" in run.err


@pytest.mark.parametrize("content", [b"", b"\n  \n", gzip.compress(b"")])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    run = run_cli("fit", path, "--embedder", EMBEDDER, "-q")
    assert run.code == 2 and "no traces (the file is empty)" in run.err


def test_missing_file_is_refused(tmp_path: Path) -> None:
    run = run_cli("fit", tmp_path / "nope.jsonl", "-q")
    assert run.code == 2 and "nope.jsonl: cannot read the trace file" in run.err


def test_embedding_rows_must_match_traces(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "t.jsonl", ours(make_traces(50, seed=5)))
    X = tmp_path / "X.npy"
    np.save(X, np.ones((49, 8), dtype=np.float32))
    run = run_cli("fit", train, "--embeddings", X, "-q")
    assert run.code == 2 and "X.npy: 49 rows, but the trace file has 50 traces" in run.err


def test_embeddings_must_be_a_matrix(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "t.jsonl", ours(make_traces(5, seed=5)))
    X = tmp_path / "X.npy"
    np.save(X, np.ones(5, dtype=np.float32))
    run = run_cli("fit", train, "--embeddings", X, "-q")
    assert run.code == 2 and "must be a 2-D numeric matrix" in run.err


def test_route_embeddings_of_the_wrong_width(fitted: Fitted, tmp_path: Path) -> None:
    n = len(fitted.heldout.read_text().splitlines())
    X = tmp_path / "X.npy"
    np.save(X, np.ones((n, 8), dtype=np.float32))
    run = run_cli("route", fitted.model, fitted.heldout, "--embeddings", X, "-q")
    assert run.code == 2 and "X.npy: 8 columns, but the model's embedder" in run.err


def test_model_signed_with_another_key_is_refused(fitted: Fitted, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_KEYS", SigningKey.generate().public_b64)
    run = run_cli("route", fitted.model, fitted.heldout, "--verify-keys-env", "OTHER_KEYS",
                  "--out", tmp_path / "o.jsonl")
    assert run.code == 2
    assert "not among the trusted keys" in run.err and "$OTHER_KEYS" in run.err
    assert not (tmp_path / "o.jsonl").exists()


def test_route_trusts_the_verify_keys_alone(fitted: Fitted, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that only routes holds the public key, not the private one."""
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("TRACER_STREAM_MODEL_VERIFY_KEYS", MODEL_KEY.public_b64)
    run = run_cli("route", fitted.model, fitted.heldout, "--out", tmp_path / "o.jsonl", "-q")
    assert run.code == 0, run.err


def test_tampered_model_is_refused(fitted: Fitted, tmp_path: Path) -> None:
    blob = bytearray(fitted.model.read_bytes())
    blob[-100] ^= 0x01
    tampered = tmp_path / "tampered.tsm"
    tampered.write_bytes(bytes(blob))
    run = run_cli("report", tampered, "--traces", fitted.heldout, "--json", tmp_path / "r.json")
    assert run.code == 2 and "signature does not verify" in run.err
    assert "modified" in run.err


def test_key_variables_must_be_set(fitted: Fitted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_KEY", raising=False)
    run = run_cli("route", fitted.model, fitted.heldout, "--verify-keys-env", "UNSET_KEY")
    assert run.code == 2 and "$UNSET_KEY is not set" in run.err
    run = run_cli("fit", fitted.train, "--signing-key-env", "UNSET_KEY")
    assert run.code == 2 and "$UNSET_KEY is not set" in run.err
    monkeypatch.delenv(KEY_ENV)
    run = run_cli("fit", fitted.train)
    assert run.code == 2 and f"${KEY_ENV} is not set" in run.err


def test_embedder_mismatch_is_refused(fitted: Fitted) -> None:
    run = run_cli("route", fitted.model, fitted.heldout, "--embedder", "hash:128", "-q")
    assert run.code == 2 and "different embedder than the model's" in run.err


def test_alpha_must_be_on_the_frontier(fitted: Fitted) -> None:
    run = run_cli("route", fitted.model, fitted.heldout, "--alpha", "0.7", "-q")
    assert run.code == 2 and "not on this model's frontier" in run.err


def test_alpha_outside_zero_one_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli("fit", tmp_path / "t.jsonl", "--alpha", "1.5")
    assert info.value.code == 2
