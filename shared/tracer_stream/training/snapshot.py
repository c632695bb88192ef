"""The trainer's columnar snapshot of the traces topic: Parquet files per task, rebuilt from the
topic (the system of record) when missing or behind.

::

    <root>/offsets.json                           topic offsets the snapshot covers (next to read)
    <root>/<task>/part-<first seq>-<last seq>.parquet

Every part is written atomically (temporary file, fsync, rename, fsync of the directory); the
offsets file is replaced the same way, after the parts it covers are durable, so a crash
between the two only makes the trainer read some traces again (dropped as duplicates: the
snapshot keeps each ``request_id`` once, first copy wins). Each row is a trace plus ``seq``
(1, 2, … per task, in storage order), the Kafka ``partition`` and ``offset`` it was read from,
and its embedding as little-endian float32 bytes (``embedding``, ``embedding_dim``).

Small parts are merged size-tiered (``fan_in`` parts of the same tier become one part) so a
task holds O(``fan_in`` · log n) files; a merge writes the merged part first and deletes its
sources afterwards, and on open a part whose seq range lies inside another part's range (a
merge that crashed before the deletions) is removed. Readers
(:mod:`tracer_stream.training.table`, DuckDB, pandas) read ``<root>/<task>/*.parquet``.

>>> import tempfile
>>> from tracer_stream.contracts import Trace
>>> root = Path(tempfile.mkdtemp())
>>> t = Trace(request_id="r1", task="intents", text="hi", label="greet", audit=False,
...           gate_accepted=False, embedding=[0.5, 0.25], embedder_id="hash/2/x")
>>> [s.seq for s in TraceSnapshot(root).append([t, t])]     # the duplicate is dropped
[1]
>>> TraceSnapshot(root).append([t]), TraceSnapshot(root).count("intents")   # after a restart
([], 1)
"""

from __future__ import annotations

import logging
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tracer_stream.contracts import Trace
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.extras import needs_extra

with needs_extra("trainer", "the trace snapshot"):
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)

OFFSETS_FILE = "offsets.json"
PART_GLOB = "part-*.parquet"

SCHEMA = pa.schema([
    ("seq", pa.int64()),
    ("request_id", pa.string()),
    ("text", pa.string()),
    ("label", pa.string()),
    ("audit", pa.bool_()),
    ("gate_accepted", pa.bool_()),
    ("surrogate_label", pa.string()),
    ("accept_score", pa.float64()),
    ("model_version", pa.string()),
    ("reason", pa.string()),
    ("embedder_id", pa.string()),
    ("embedding_dim", pa.int32()),
    ("embedding", pa.binary()),
    ("teacher", pa.string()),
    ("latency_ms", pa.float64()),
    ("cost_usd", pa.float64()),
    ("input_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("created_at", pa.float64()),
    ("partition", pa.int32()),
    ("offset", pa.int64()),
])
"""Columns of every part (``embedding``: little-endian float32 bytes, ``embedding_dim`` floats)."""

_SCALAR_COLUMNS = [name for name in SCHEMA.names if name != "embedding"]
WRITE_OPTIONS: dict[str, Any] = {
    "compression": {**dict.fromkeys(_SCALAR_COLUMNS, "zstd"), "embedding": "none"},
    "use_dictionary": _SCALAR_COLUMNS,
}
"""Embedding bytes are stored plain (floats barely compress: in a side test on B5's synthetic
rows, reading the column was ~25% faster and parts ~8% larger than with zstd); the other
columns are zstd-compressed."""

TRACE_COLUMNS = tuple(name for name in SCHEMA.names
                      if name in Trace.__dataclass_fields__ and name != "embedding")


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """A trace as committed to the snapshot, with its per-task sequence number."""

    seq: int
    trace: Trace


@dataclass(frozen=True, slots=True)
class Part:
    """One Parquet file of a task: rows with ``first <= seq <= last``."""

    path: Path
    first: int
    last: int

    @classmethod
    def parse(cls, path: Path) -> Part:
        _, first, last = path.stem.split("-")
        return cls(path, int(first), int(last))

    @staticmethod
    def name(first: int, last: int) -> str:
        return f"part-{first:012d}-{last:012d}.parquet"

    @property
    def rows(self) -> int:
        return self.last - self.first + 1


def live_parts(task_dir: Path) -> list[Part]:
    """The task's parts in seq order, without parts another part contains (merge leftovers)."""
    parts = sorted((Part.parse(p) for p in task_dir.glob(PART_GLOB)),
                   key=lambda p: (p.first, -p.last))
    live: list[Part] = []
    for part in parts:
        if live and part.last <= live[-1].last:
            continue
        live.append(part)
    return live


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` then fsync, rename to ``path`` and fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make creations, renames and deletions in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def to_table(stored: Sequence[StoredTrace], sources: Sequence[Source]) -> pa.Table:
    """Rows of :data:`SCHEMA` for the traces (``sources``: where each was read from)."""
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    for s, src in zip(stored, sources, strict=True):
        t = s.trace
        columns["seq"].append(s.seq)
        for name in TRACE_COLUMNS:
            columns[name].append(getattr(t, name))
        emb = t.embedding
        columns["embedding_dim"].append(len(emb) if emb else None)
        columns["embedding"].append(np.asarray(emb, dtype="<f4").tobytes() if emb else None)
        columns["partition"].append(src.partition)
        columns["offset"].append(src.offset)
    return pa.table(columns, schema=SCHEMA)


class TaskSnapshot:
    """Writer of one task's parts; knows the stored ids (rebuilt from the files on open)."""

    def __init__(self, task_dir: Path, task: str, *, fan_in: int = 8,
                 small_part_rows: int = 4096, max_part_rows: int = 1_000_000) -> None:
        self.dir = task_dir
        self.task = task
        self.fan_in = fan_in
        self.small_part_rows = small_part_rows
        self.max_part_rows = max_part_rows
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.dir.glob("*.tmp"):
            leftover.unlink()
        self.parts = live_parts(self.dir)
        for stale in set(self.dir.glob(PART_GLOB)) - {p.path for p in self.parts}:
            log.warning("snapshot %s: removing %s (inside a merged part)", task, stale.name)
            stale.unlink()
        self.ids: set[str] = set()
        for part in self.parts:
            self.ids.update(pq.read_table(part.path, columns=["request_id"])
                            .column("request_id").to_pylist())
        self.count = self.parts[-1].last if self.parts else 0

    def append(self, traces: Sequence[Trace], sources: Sequence[Source]) -> list[StoredTrace]:
        """Store the traces not stored yet (first copy wins); durable on return."""
        fresh: list[StoredTrace] = []
        where: list[Source] = []
        for t, src in zip(traces, sources, strict=True):
            if t.request_id not in self.ids:
                self.ids.add(t.request_id)
                fresh.append(StoredTrace(self.count + len(fresh) + 1, t))
                where.append(src)
        if not fresh:
            return []
        part = Part(self.dir / Part.name(fresh[0].seq, fresh[-1].seq), fresh[0].seq,
                    fresh[-1].seq)
        table = to_table(fresh, where)
        write_atomically(part.path, lambda tmp: pq.write_table(table, tmp, **WRITE_OPTIONS))
        self.parts.append(part)
        self.count = part.last
        self._merge()
        return fresh

    def _tier(self, part: Part) -> int:
        if part.rows < self.small_part_rows:
            return 0
        return 1 + int(math.log(part.rows / self.small_part_rows, self.fan_in))

    def _merge(self) -> None:
        """Merge the newest ``fan_in`` parts while they share a tier (size-tiered)."""
        while len(self.parts) >= self.fan_in:
            tail = self.parts[-self.fan_in:]
            rows = sum(p.rows for p in tail)
            if len({self._tier(p) for p in tail}) != 1 or rows > self.max_part_rows:
                return
            merged = Part(self.dir / Part.name(tail[0].first, tail[-1].last), tail[0].first,
                          tail[-1].last)

            def write(tmp: Path, sources: list[Part] = tail) -> None:
                with pq.ParquetWriter(tmp, SCHEMA, **WRITE_OPTIONS) as writer:
                    for source in sources:
                        writer.write_table(pq.read_table(source.path, schema=SCHEMA))

            write_atomically(merged.path, write)
            for source in tail:
                source.path.unlink()
            fsync_dir(self.dir)
            self.parts[-self.fan_in:] = [merged]


class TraceSnapshot:
    """Every task's snapshot under ``root`` (normally ``<state_dir>/traces``) and the topic
    offsets it covers."""

    def __init__(self, root: Path, **part_options: int) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._part_options = part_options
        self._tasks: dict[str, TaskSnapshot] = {}
        for task_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            self._task(task_dir.name)
        self.offsets = read_offsets(self.root)

    def _task(self, task: str) -> TaskSnapshot:
        if task not in self._tasks:
            created = not (self.root / task).exists()
            self._tasks[task] = TaskSnapshot(self.root / task, task, **self._part_options)
            if created:
                fsync_dir(self.root)
        return self._tasks[task]

    def tasks(self) -> list[str]:
        return sorted(self._tasks)

    def count(self, task: str) -> int:
        """Traces stored for ``task`` (= its highest sequence number)."""
        return self._tasks[task].count if task in self._tasks else 0

    def append(self, traces: Iterable[Trace], sources: Sequence[Source] | None = None
               ) -> list[StoredTrace]:
        """Store a batch (any mix of tasks); returns what was new, in storage order per task.
        Covered offsets are not moved: call :meth:`cover` once the whole batch is handled."""
        items = list(traces)
        where = list(sources) if sources is not None else [Source()] * len(items)
        by_task: dict[str, tuple[list[Trace], list[Source]]] = defaultdict(lambda: ([], []))
        for t, src in zip(items, where, strict=True):
            by_task[t.task][0].append(t)
            by_task[t.task][1].append(src)
        stored: list[StoredTrace] = []
        for task, (task_traces, task_sources) in by_task.items():
            stored.extend(self._task(task).append(task_traces, task_sources))
        return stored

    def cover(self, sources: Iterable[Source]) -> None:
        """Record that every message up to these positions is in the snapshot (durably)."""
        moved = False
        for src in sources:
            if src.topic is None or src.partition is None or src.offset is None:
                continue
            topic = self.offsets.setdefault(src.topic, {})
            if src.offset + 1 > topic.get(src.partition, 0):
                topic[src.partition] = src.offset + 1
                moved = True
        if moved:
            payload = orjson.dumps({t: {str(p): o for p, o in parts.items()}
                                    for t, parts in self.offsets.items()})
            write_atomically(self.root / OFFSETS_FILE, lambda tmp: tmp.write_bytes(payload))


def read_offsets(root: Path) -> dict[str, dict[int, int]]:
    """``{topic: {partition: next offset to read}}`` the snapshot under ``root`` covers."""
    path = Path(root) / OFFSETS_FILE
    if not path.exists():
        return {}
    return {t: {int(p): int(o) for p, o in parts.items()}
            for t, parts in orjson.loads(path.read_bytes()).items()}
