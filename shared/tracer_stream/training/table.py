"""Read-only, columnar view of a task's snapshot (what a refit works on).

Reading never modifies the files, so a refit in another process can read while the consumer
writes: parts are only ever renamed into place whole, and a part that a concurrent merge
deleted between listing and reading makes the reader list again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracer_stream.contracts import Trace
from tracer_stream.extras import needs_extra
from tracer_stream.training.snapshot import (
    SCHEMA,
    TRACE_COLUMNS,
    Part,
    StoredTrace,
    live_parts,
)

with needs_extra("trainer", "the trace snapshot"):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

_SCALARS = ["seq", "request_id", "text", "label", "audit", "model_version", "reason",
            "embedder_id", "embedding_dim"]


def read_parts(task_dir: Path, columns: list[str], after_seq: int = 0,
               attempts: int = 5, seqs: np.ndarray | None = None) -> pa.Table:
    """``columns`` of the task's rows with ``seq > after_seq``, in seq order; only the rows
    whose ``seq`` is in ``seqs`` when given (each part is filtered as it is read, so only those
    rows are held in memory)."""
    for _ in range(attempts):
        parts = [p for p in live_parts(task_dir) if p.last > after_seq] \
            if task_dir.exists() else []
        try:
            return _read(parts, columns, after_seq, seqs)
        except FileNotFoundError:  # a merge replaced a part meanwhile: list again
            continue
    return _read(live_parts(task_dir), columns, after_seq, seqs)


def _read(parts: list[Part], columns: list[str], after_seq: int,
          seqs: np.ndarray | None) -> pa.Table:
    schema = pa.schema([SCHEMA.field(c) for c in columns])
    tables = []
    for p in parts:
        filters = [("seq", ">", after_seq)] if p.first <= after_seq else []
        if seqs is not None:
            wanted = seqs[(seqs >= p.first) & (seqs <= p.last)]
            if not len(wanted):
                continue
            filters.append(("seq", "in", wanted.tolist()))
        tables.append(pq.read_table(p.path, columns=columns, schema=SCHEMA,
                                    filters=filters or None))
    return pa.concat_tables(tables) if tables else schema.empty_table()


@dataclass
class TraceTable:
    """One task's traces as columns, in storage order."""

    task: str
    dir: Path
    seq: np.ndarray
    request_ids: list[str]
    texts: list[str]
    labels: list[str]
    audit: np.ndarray
    model_version: list[str | None]
    reasons: list[str | None]
    embedder_ids: list[str | None]
    embedding_dims: np.ndarray
    after_seq: int = 0
    """The table holds the rows with ``seq > after_seq`` (0: every row)."""

    def __len__(self) -> int:
        return len(self.request_ids)

    @classmethod
    def load(cls, root: Path, task: str, window: int = 0) -> TraceTable:
        """The committed traces of ``task`` under the snapshot root ``root``: every one, or the
        last ``window`` by storage order (``window`` > 0). A window is chosen by position only,
        never by label or model output, so the eligible calibration rows in it stay a fair
        sample of the window's traffic (see "sizing" in ``docs/trainer.md``)."""
        task_dir = Path(root) / task
        after_seq = 0
        if window > 0:
            seqs = read_parts(task_dir, ["seq"]).column("seq")
            after_seq = max(0, int(seqs[-1].as_py()) - window) if len(seqs) else 0
        t = read_parts(task_dir, _SCALARS, after_seq)
        return cls(
            task=task, dir=task_dir,
            seq=t.column("seq").to_numpy(),
            request_ids=t.column("request_id").to_pylist(),
            texts=t.column("text").to_pylist(),
            labels=t.column("label").to_pylist(),
            audit=t.column("audit").to_numpy(zero_copy_only=False).astype(bool),
            model_version=t.column("model_version").to_pylist(),
            reasons=t.column("reason").to_pylist(),
            embedder_ids=t.column("embedder_id").to_pylist(),
            embedding_dims=t.column("embedding_dim").fill_null(0).to_numpy(),
            after_seq=after_seq,
        )

    def embeddings(self, embedder_id: str, dim: int, rows: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, have)``: float32 rows stored by embedder ``embedder_id`` (dimension ``dim``),
        and which rows have one. Rows without (``have`` false) are zero: re-embed them.
        ``rows`` (ascending indices into the table): only those, read and held alone."""
        have = (np.array([e == embedder_id for e in self.embedder_ids], dtype=bool)
                & (self.embedding_dims == dim))
        if rows is not None:
            have = have[rows]
        X = np.zeros((len(have), dim), dtype=np.float32)
        if not have.any():
            return X, have
        if rows is None:
            # seq runs 1, 2, ... without gaps, so the first len(self) rows are this table's
            # rows even if the consumer stored more since load()
            column = read_parts(self.dir, ["embedding"], self.after_seq).column(
                "embedding").slice(0, len(self))
        else:
            column = read_parts(self.dir, ["embedding"], self.after_seq,
                                seqs=self.seq[rows]).column("embedding")
        row = 0
        for chunk in column.chunks:
            X[row:row + len(chunk)] = _decode(chunk, have[row:row + len(chunk)], dim)
            row += len(chunk)
        return X, have


def _decode(chunk: pa.BinaryArray, have: np.ndarray, dim: int) -> np.ndarray:
    """Float32 rows of a binary chunk; rows where ``have`` is false are zero."""
    out = np.zeros((len(chunk), dim), dtype=np.float32)
    lengths = pc.binary_length(chunk).fill_null(0).to_numpy(zero_copy_only=False)
    if len(chunk) and chunk.null_count == 0 and (lengths == 4 * dim).all():
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32,
                                count=len(chunk) + 1, offset=4 * chunk.offset)
        data = np.frombuffer(chunk.buffers()[2], dtype="<f4",
                             count=len(chunk) * dim, offset=int(offsets[0]))
        out[:] = data.reshape(len(chunk), dim)
        out[~have] = 0.0
        return out
    for i in np.flatnonzero(have):
        out[i] = np.frombuffer(chunk[int(i)].as_py(), dtype="<f4")
    return out


def read_after(root: Path, task: str, after_seq: int) -> list[StoredTrace]:
    """Committed traces of ``task`` with ``seq > after_seq``, embeddings included (used to
    replay what a crash kept from the live monitor and the drift detectors)."""
    t = read_parts(Path(root) / task, ["seq", *TRACE_COLUMNS, "embedding"], after_seq)
    out: list[StoredTrace] = []
    for r in t.to_pylist():
        emb, seq = r.pop("embedding"), r.pop("seq")
        embedding = np.frombuffer(emb, dtype="<f4").tolist() if emb else None
        out.append(StoredTrace(int(seq), Trace(task=task, embedding=embedding, **r)))
    return out
