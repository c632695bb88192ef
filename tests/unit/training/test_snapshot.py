"""The columnar trace snapshot: dedupe, restart, atomic parts, merges, covered offsets, the
columnar view, and reading it with DuckDB as docs/trainer.md shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tracer_stream.contracts.dead_letters import Source
from tracer_stream.training import TraceSnapshot, TraceTable, read_after
from tracer_stream.training.snapshot import OFFSETS_FILE, Part, live_parts, read_offsets

from .conftest import make_trace


def test_dedupes_within_and_across_batches(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path)
    first = store.append([make_trace(1), make_trace(2), make_trace(1)])
    again = store.append([make_trace(2), make_trace(3)])
    assert [s.seq for s in first] == [1, 2]
    assert [(s.seq, s.trace.request_id) for s in again] == [(3, "r3")]
    assert store.count("intents") == 3


def test_restart_keeps_everything_and_counts_nothing_twice(tmp_path: Path) -> None:
    TraceSnapshot(tmp_path).append([make_trace(i) for i in range(10)])
    reopened = TraceSnapshot(tmp_path)
    assert reopened.tasks() == ["intents"] and reopened.count("intents") == 10
    stored = reopened.append([make_trace(i) for i in range(5, 15)])
    assert [s.seq for s in stored] == list(range(11, 16))
    table = TraceTable.load(tmp_path, "intents")
    assert table.request_ids == [f"r{i}" for i in range(15)]
    assert table.seq.tolist() == list(range(1, 16))


def test_an_unfinished_write_is_not_part_of_the_snapshot(tmp_path: Path) -> None:
    TraceSnapshot(tmp_path).append([make_trace(i) for i in range(4)])
    torn = tmp_path / "intents" / (Part.name(5, 6) + ".tmp")
    torn.write_bytes(b"PAR1 half a file")  # a crash before the rename
    assert len(TraceTable.load(tmp_path, "intents")) == 4  # readers never see temp files
    store = TraceSnapshot(tmp_path)
    assert not torn.exists()
    assert [s.seq for s in store.append([make_trace(4)])] == [5]
    X, have = TraceTable.load(tmp_path, "intents").embeddings("emb/4/x", 4)
    assert have.all() and np.allclose(X[4], make_trace(4).embedding)


def test_a_window_reads_the_last_traces_with_their_own_embeddings(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path)
    for start in (0, 6, 12):  # several parts, so the window starts inside one
        store.append([make_trace(i) for i in range(start, start + 6)])
    table = TraceTable.load(tmp_path, "intents", window=5)
    assert table.request_ids == [f"r{i}" for i in range(13, 18)]
    assert table.seq.tolist() == [14, 15, 16, 17, 18]
    X, have = table.embeddings("emb/4/x", 4)
    assert have.all() and np.allclose(X[0], make_trace(13).embedding)
    assert len(TraceTable.load(tmp_path, "intents", window=100)) == 18


def test_small_parts_merge_and_a_crashed_merge_leaves_no_duplicates(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path, fan_in=3, small_part_rows=4)
    for i in range(7):
        store.append([make_trace(2 * i), make_trace(2 * i + 1)])
    names = [p.path.name for p in live_parts(tmp_path / "intents")]
    assert names == [Part.name(1, 6), Part.name(7, 12), Part.name(13, 14)]
    # a merge that wrote its output but crashed before deleting its sources
    leftover = tmp_path / "intents" / Part.name(7, 8)
    pq.write_table(pq.read_table(tmp_path / "intents" / Part.name(7, 12)).slice(0, 2), leftover)
    assert [p.path.name for p in live_parts(tmp_path / "intents")] == names
    reopened = TraceSnapshot(tmp_path, fan_in=3, small_part_rows=4)
    assert not leftover.exists() and reopened.count("intents") == 14
    table = TraceTable.load(tmp_path, "intents")
    assert table.seq.tolist() == list(range(1, 15))
    X, have = table.embeddings("emb/4/x", 4)
    expected = np.array([make_trace(i).embedding for i in range(14)], dtype=np.float32)
    assert have.all() and np.array_equal(X, expected)


def test_covered_offsets_survive_a_restart_and_only_move_forward(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path)
    sources = [Source("t", 0, 7), Source("t", 1, 3), Source("t", 0, 8)]
    store.append([make_trace(i) for i in range(3)], sources)
    assert read_offsets(tmp_path) == {}  # stored, but the batch is not handled yet
    store.cover(sources)
    store.cover([Source("t", 0, 2)])  # a redelivery behind the covered offset
    assert read_offsets(tmp_path) == {"t": {0: 9, 1: 4}}
    assert TraceSnapshot(tmp_path).offsets == {"t": {0: 9, 1: 4}}
    assert (tmp_path / OFFSETS_FILE).exists()
    rows = pq.read_table(tmp_path / "intents").to_pylist()
    assert [(r["partition"], r["offset"]) for r in rows] == [(0, 7), (1, 3), (0, 8)]


def test_embeddings_of_another_embedder_or_none_must_be_recomputed(tmp_path: Path) -> None:
    TraceSnapshot(tmp_path).append([
        make_trace(0), make_trace(1, embedder_id="other/4/y"),
        make_trace(2, embedder_id=None), make_trace(3, embedding=[1.0, 2.0])])
    X, have = TraceTable.load(tmp_path, "intents").embeddings("emb/4/x", 4)
    assert have.tolist() == [True, False, False, False]
    assert not X[1:].any()


def test_tasks_are_separate(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path)
    stored = store.append([make_trace(1, task="a"), make_trace(1, task="b"),
                           make_trace(2, task="a")])
    assert [(s.trace.task, s.seq) for s in stored] == [("a", 1), ("a", 2), ("b", 1)]
    assert store.tasks() == ["a", "b"] and len(TraceTable.load(tmp_path, "missing")) == 0


def test_read_after_replays_full_traces(tmp_path: Path) -> None:
    originals = [make_trace(i, audit=i % 2 == 0, model_version="v1", surrogate_label="b",
                            accept_score=0.5) for i in range(6)]
    store = TraceSnapshot(tmp_path)
    store.append(originals[:4])
    store.append(originals[4:])
    replayed = read_after(tmp_path, "intents", 3)
    assert [s.seq for s in replayed] == [4, 5, 6]
    for s in replayed:
        original = originals[s.seq - 1]
        assert s.trace.embedding is not None and original.embedding is not None
        assert np.allclose(s.trace.embedding, original.embedding)
        assert (s.trace.audit, s.trace.model_version, s.trace.created_at) == (
            original.audit, original.model_version, original.created_at)


def test_the_documented_duckdb_query_lists_disagreements_by_label(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    TraceSnapshot(tmp_path).append([
        make_trace(0, label="a", audit=True, gate_accepted=True, surrogate_label="a"),
        make_trace(1, label="a", audit=True, gate_accepted=True, surrogate_label="b"),
        make_trace(2, label="b", audit=True, gate_accepted=True, surrogate_label="a"),
        make_trace(3, label="b", surrogate_label="a"),  # not audited: not a disagreement
        make_trace(4, label="a", audit=True, gate_accepted=True, surrogate_label="b")])
    query = _doc_query().replace("/var/lib/tracer-stream/traces", str(tmp_path))
    rows = duckdb.sql(query).fetchall()
    assert rows == [("a", 3, 2, pytest.approx(2 / 3)), ("b", 1, 1, 1.0)]


def _doc_query() -> str:
    """The SQL block of docs/trainer.md's "Reading the snapshot" section."""
    doc = (Path(__file__).parents[3] / "docs" / "trainer.md").read_text()
    section = doc.split("## Reading the snapshot", 1)[1]
    return section.split("```sql", 1)[1].split("```", 1)[0]


def test_selected_rows_read_only_their_own_embeddings(tmp_path: Path) -> None:
    store = TraceSnapshot(tmp_path)
    for start in (0, 6, 12):  # rows from every part, and a part with none selected
        store.append([make_trace(i) for i in range(start, start + 6)])
    table = TraceTable.load(tmp_path, "intents", window=15)
    rows = np.array([0, 1, 7, 14])  # seq 4, 5, 11, 18
    X, have = table.embeddings("emb/4/x", 4, rows)
    assert X.shape == (4, 4) and have.all()
    full, _ = table.embeddings("emb/4/x", 4)
    assert np.array_equal(X, full[rows])
    assert np.allclose(X[2], make_trace(10).embedding)
    X, have = table.embeddings("emb/4/x", 4, np.array([], dtype=np.int64))
    assert X.shape == (0, 4) and not have.any()
