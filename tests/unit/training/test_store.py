"""The durable trace store: dedupe, restart, torn tails, segments, the columnar view."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tracer_stream.training import TraceStore, TraceTable, read_after
from tracer_stream.training.segments import segment_paths

from .conftest import make_trace


def test_dedupes_within_and_across_batches(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    first = store.append([make_trace(1), make_trace(2), make_trace(1)])
    again = store.append([make_trace(2), make_trace(3)])
    assert [s.seq for s in first] == [1, 2]
    assert [(s.seq, s.trace.request_id) for s in again] == [(3, "r3")]
    assert store.count("intents") == 3


def test_restart_keeps_everything_and_counts_nothing_twice(tmp_path: Path) -> None:
    TraceStore(tmp_path).append([make_trace(i) for i in range(10)])
    reopened = TraceStore(tmp_path)
    assert reopened.tasks() == ["intents"] and reopened.count("intents") == 10
    stored = reopened.append([make_trace(i) for i in range(5, 15)])
    assert [s.seq for s in stored] == list(range(11, 16))
    table = TraceTable.load(tmp_path, "intents")
    assert table.request_ids == [f"r{i}" for i in range(15)]
    assert table.seq.tolist() == list(range(1, 16))


def test_torn_tail_is_truncated_on_open_and_ignored_by_readers(tmp_path: Path) -> None:
    TraceStore(tmp_path).append([make_trace(i) for i in range(4)])
    jsonl, f32 = segment_paths(tmp_path / "intents", 1)
    good_size, emb_size = jsonl.stat().st_size, f32.stat().st_size
    with jsonl.open("ab") as fh:
        fh.write(b'{"seq": 5, "request_id": "r4", "te')  # a crash mid-line
    with f32.open("ab") as fh:
        fh.write(b"\0" * 12)  # floats of a batch whose lines never made it
    assert len(TraceTable.load(tmp_path, "intents")) == 4  # the reader skips, changes nothing
    assert jsonl.stat().st_size > good_size
    store = TraceStore(tmp_path)
    assert (jsonl.stat().st_size, f32.stat().st_size) == (good_size, emb_size)
    assert [s.seq for s in store.append([make_trace(4)])] == [5]
    X, have = TraceTable.load(tmp_path, "intents").embeddings("emb/4/x", 4)
    assert have.all() and np.allclose(X[4], make_trace(4).embedding)


def test_line_pointing_past_the_embedding_file_counts_as_torn(tmp_path: Path) -> None:
    TraceStore(tmp_path).append([make_trace(0), make_trace(1)])
    _, f32 = segment_paths(tmp_path / "intents", 1)
    with f32.open("r+b") as fh:
        fh.truncate(16 + 8)  # the second row lost half its floats
    store = TraceStore(tmp_path)
    assert store.count("intents") == 1
    assert TraceTable.load(tmp_path, "intents").request_ids == ["r0"]


def test_segments_rotate_and_read_back_in_order(tmp_path: Path) -> None:
    store = TraceStore(tmp_path, segment_records=3)
    store.append([make_trace(i) for i in range(5)])
    store.append([make_trace(i) for i in range(5, 7)])
    assert sorted(p.name for p in (tmp_path / "intents").glob("*.jsonl")) == [
        "seg-00000001.jsonl", "seg-00000002.jsonl", "seg-00000003.jsonl"]
    assert TraceStore(tmp_path, segment_records=3).append([make_trace(7)])[0].seq == 8
    table = TraceTable.load(tmp_path, "intents")
    X, have = table.embeddings("emb/4/x", 4)
    expected = np.array([make_trace(i).embedding for i in range(8)], dtype=np.float32)
    assert have.all() and np.array_equal(X, expected)


def test_embeddings_of_another_embedder_or_none_must_be_recomputed(tmp_path: Path) -> None:
    TraceStore(tmp_path).append([
        make_trace(0), make_trace(1, embedder_id="other/4/y"),
        make_trace(2, embedder_id=None), make_trace(3, embedding=[1.0, 2.0])])
    X, have = TraceTable.load(tmp_path, "intents").embeddings("emb/4/x", 4)
    assert have.tolist() == [True, False, False, False]
    assert not X[1:].any()


def test_tasks_are_separate_logs(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    stored = store.append([make_trace(1, task="a"), make_trace(1, task="b"),
                           make_trace(2, task="a")])
    assert [(s.trace.task, s.seq) for s in stored] == [("a", 1), ("a", 2), ("b", 1)]
    assert store.tasks() == ["a", "b"] and len(TraceTable.load(tmp_path, "missing")) == 0


def test_read_after_replays_full_traces(tmp_path: Path) -> None:
    originals = [make_trace(i, audit=i % 2 == 0, model_version="v1", surrogate_label="b",
                            accept_score=0.5) for i in range(6)]
    TraceStore(tmp_path, segment_records=4).append(originals)
    replayed = read_after(tmp_path, "intents", 3)
    assert [s.seq for s in replayed] == [4, 5, 6]
    for s in replayed:
        original = originals[s.seq - 1]
        assert s.trace.embedding is not None and original.embedding is not None
        assert np.allclose(s.trace.embedding, original.embedding)
        assert (s.trace.audit, s.trace.model_version, s.trace.created_at) == (
            original.audit, original.model_version, original.created_at)
