"""The durable trace store: one append-only log per task under ``<root>/<task>/``.

The layout and the commit protocol are in :mod:`tracer_stream.training.segments`. The store
keeps, per task, the set of stored ``request_id`` values (rebuilt from the files on open) and
drops a trace whose id is already stored, so the at-least-once redelivery of a Kafka consumer
neither loses nor double counts a trace. A batch is durable when :meth:`TraceStore.append`
returns; only then may the consumer commit its offsets.

>>> import tempfile
>>> from tracer_stream.contracts import Trace
>>> root = Path(tempfile.mkdtemp())
>>> t = Trace(request_id="r1", task="intents", text="hi", label="greet", audit=False,
...           gate_accepted=False, embedding=[0.5, 0.25], embedder_id="hash/2/x")
>>> [s.seq for s in TraceStore(root).append([t, t])]     # the duplicate is dropped
[1]
>>> TraceStore(root).append([t]), TraceStore(root).count("intents")   # also after a restart
([], 1)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tracer_stream.contracts import Trace
from tracer_stream.training.segments import (
    append_durably,
    fsync_dir,
    scan_segment,
    segment_numbers,
    segment_paths,
    truncate_to,
)

log = logging.getLogger(__name__)

_NOT_STORED = ("embedding", "schema_version", "task")


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """A trace as committed to the store, with its per-task sequence number."""

    seq: int
    trace: Trace


class TaskLog:
    """Writer of one task's log; recovers (truncates a torn tail) and indexes on open."""

    def __init__(self, task_dir: Path, task: str, segment_records: int = 50_000) -> None:
        self.dir = task_dir
        self.task = task
        self.segment_records = segment_records
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ids: set[str] = set()
        self.count = 0
        self._segment = 1
        self._in_segment = 0
        for number in segment_numbers(self.dir):
            scan = scan_segment(self.dir, number)
            if scan.torn:
                log.warning("trace store %s: segment %d had a torn tail; truncated after %d "
                            "records", task, number, len(scan.records))
                jsonl, f32 = segment_paths(self.dir, number)
                truncate_to(jsonl, scan.good_bytes)
                truncate_to(f32, scan.emb_bytes)
            self.ids.update(r["request_id"] for r in scan.records)
            self.count += len(scan.records)
            self._segment, self._in_segment = number, len(scan.records)

    def append(self, traces: Sequence[Trace]) -> list[StoredTrace]:
        """Store the traces not stored yet (first copy wins); durable on return."""
        fresh: list[Trace] = []
        seen: set[str] = set()
        for t in traces:
            if t.request_id not in self.ids and t.request_id not in seen:
                seen.add(t.request_id)
                fresh.append(t)
        stored: list[StoredTrace] = []
        while fresh:
            if self._in_segment >= self.segment_records:
                self._segment, self._in_segment = self._segment + 1, 0
            room = self.segment_records - self._in_segment
            chunk, fresh = fresh[:room], fresh[room:]
            stored.extend(self._write(chunk))
        return stored

    def _write(self, traces: list[Trace]) -> list[StoredTrace]:
        jsonl, f32 = segment_paths(self.dir, self._segment)
        created = not jsonl.exists()
        offset = f32.stat().st_size if f32.exists() else 0
        lines: list[bytes] = []
        rows: list[bytes] = []
        stored: list[StoredTrace] = []
        for i, t in enumerate(traces):
            seq = self.count + i + 1
            record: dict[str, Any] = {"seq": seq, **{k: v for k, v in t.to_dict().items()
                                                     if k not in _NOT_STORED}}
            if t.embedding:
                row = np.asarray(t.embedding, dtype="<f4").tobytes()
                record["emb"] = [offset, len(t.embedding)]
                offset += len(row)
                rows.append(row)
            lines.append(orjson.dumps(record) + b"\n")
            stored.append(StoredTrace(seq, t))
        if rows:
            append_durably(f32, b"".join(rows))
        append_durably(jsonl, b"".join(lines))
        if created:
            fsync_dir(self.dir)
        self.ids.update(t.request_id for t in traces)
        self.count += len(traces)
        self._in_segment += len(traces)
        return stored


class TraceStore:
    """All tasks' logs under ``root`` (normally ``<state_dir>/traces``)."""

    def __init__(self, root: Path, segment_records: int = 50_000) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.segment_records = segment_records
        self._logs: dict[str, TaskLog] = {}
        for task_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            self._log(task_dir.name)

    def _log(self, task: str) -> TaskLog:
        if task not in self._logs:
            created = not (self.root / task).exists()
            self._logs[task] = TaskLog(self.root / task, task, self.segment_records)
            if created:
                fsync_dir(self.root)
        return self._logs[task]

    def tasks(self) -> list[str]:
        return sorted(self._logs)

    def count(self, task: str) -> int:
        """Traces stored for ``task`` (= its highest sequence number)."""
        return self._logs[task].count if task in self._logs else 0

    def append(self, traces: Iterable[Trace]) -> list[StoredTrace]:
        """Store a batch (any mix of tasks); returns what was new, in storage order per task."""
        by_task: dict[str, list[Trace]] = defaultdict(list)
        for t in traces:
            by_task[t.task].append(t)
        stored: list[StoredTrace] = []
        for task, items in by_task.items():
            stored.extend(self._log(task).append(items))
        return stored
