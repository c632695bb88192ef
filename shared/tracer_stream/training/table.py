"""Read-only, columnar view of a task's stored traces (what a refit works on).

Reading never modifies the files, so a refit in another process can read while the consumer
appends: a torn or not yet complete last line is simply not part of the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracer_stream.contracts import Trace
from tracer_stream.training.segments import scan_segment, segment_numbers, segment_paths
from tracer_stream.training.store import StoredTrace

_TRACE_FIELDS = frozenset(Trace.__dataclass_fields__) - {"embedding", "task"}


@dataclass
class TraceTable:
    """One task's traces as columns, in storage order."""

    task: str
    seq: np.ndarray
    request_ids: list[str]
    texts: list[str]
    labels: list[str]
    audit: np.ndarray
    model_version: list[str | None]
    reasons: list[str | None]
    embedder_ids: list[str | None]
    _emb: list[tuple[Path, int, int] | None]

    def __len__(self) -> int:
        return len(self.request_ids)

    @classmethod
    def load(cls, root: Path, task: str) -> TraceTable:
        """Every committed trace of ``task`` under the store root ``root``."""
        records: list[dict[str, Any]] = []
        emb: list[tuple[Path, int, int] | None] = []
        task_dir = Path(root) / task
        for number in segment_numbers(task_dir) if task_dir.exists() else []:
            f32 = segment_paths(task_dir, number)[1]
            for r in scan_segment(task_dir, number).records:
                records.append(r)
                emb.append((f32, int(r["emb"][0]), int(r["emb"][1])) if "emb" in r else None)
        return cls(
            task=task,
            seq=np.array([r["seq"] for r in records], dtype=np.int64),
            request_ids=[r["request_id"] for r in records],
            texts=[r["text"] for r in records],
            labels=[r["label"] for r in records],
            audit=np.array([bool(r["audit"]) for r in records], dtype=bool),
            model_version=[r.get("model_version") for r in records],
            reasons=[r.get("reason") for r in records],
            embedder_ids=[r.get("embedder_id") for r in records],
            _emb=emb,
        )

    def embeddings(self, embedder_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(X, have)``: float32 rows stored by embedder ``embedder_id`` (dimension ``dim``),
        and which rows have one. Rows without (``have`` false) are zero: re-embed them."""
        X = np.zeros((len(self), dim), dtype=np.float32)
        have = np.zeros(len(self), dtype=bool)
        files: dict[Path, np.ndarray] = {}
        for i, ref in enumerate(self._emb):
            if ref is None or self.embedder_ids[i] != embedder_id or ref[2] != dim:
                continue
            path, offset, _ = ref
            if path not in files:
                files[path] = np.fromfile(path, dtype="<f4")
            X[i] = files[path][offset // 4: offset // 4 + dim]
            have[i] = True
        return X, have


def read_after(root: Path, task: str, after_seq: int) -> list[StoredTrace]:
    """Committed traces of ``task`` with ``seq > after_seq``, embeddings included (used to
    replay what a crash kept from the live monitor and the drift detectors)."""
    out: list[StoredTrace] = []
    task_dir = Path(root) / task
    for number in segment_numbers(task_dir) if task_dir.exists() else []:
        jsonl_records = scan_segment(task_dir, number).records
        if not jsonl_records or jsonl_records[-1]["seq"] <= after_seq:
            continue
        f32_path = segment_paths(task_dir, number)[1]
        f32 = np.fromfile(f32_path, dtype="<f4") if f32_path.exists() else np.zeros(0)
        for r in jsonl_records:
            if r["seq"] <= after_seq:
                continue
            fields = {k: v for k, v in r.items() if k in _TRACE_FIELDS}
            if "emb" in r:
                start = int(r["emb"][0]) // 4
                fields["embedding"] = f32[start:start + int(r["emb"][1])].tolist()
            out.append(StoredTrace(int(r["seq"]), Trace(task=task, **fields)))
    return out
