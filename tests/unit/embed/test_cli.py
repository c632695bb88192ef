"""``tracer-stream embed warmup | info`` with the dependency-free hashing embedder."""

from __future__ import annotations

import pytest

from tracer_stream.cli.main import main
from tracer_stream.embed import load_embedder


def test_warmup_builds_each_embedder_and_reports_its_identity(
        capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TRACER_STREAM_CACHE_DIR", str(tmp_path))
    assert main(["embed", "warmup", "hash:32", "hash:48"]) == 0
    out = capsys.readouterr().out
    assert f"cache directory: {tmp_path}" in out
    assert f"identity {load_embedder('hash:32').identity.id}, dimension 32" in out
    assert "dimension 48" in out


def test_info_prints_the_identity_models_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "info", "hash:16"]) == 0
    ref = load_embedder("hash:16").identity
    out = capsys.readouterr().out
    assert f"id           {ref.id}" in out
    assert "dimension    16" in out


def test_unknown_spec_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "info", "nope"]) != 0
    assert "unknown embedder spec 'nope'" in capsys.readouterr().err
