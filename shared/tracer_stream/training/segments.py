"""On-disk format of one task's trace log: numbered segments, each a JSONL file of records and a
raw float32 file of embedding rows.

::

    <task dir>/seg-00000001.jsonl   one JSON record per line, "\\n"-terminated
    <task dir>/seg-00000001.f32     little-endian float32 rows, referenced by byte offset

A record is the trace without ``embedding``/``schema_version``/``task`` plus ``seq`` (1, 2, …
per task, in storage order) and, when the trace carried an embedding, ``emb = [offset, dim]``.
A batch is committed by writing and fsyncing the ``.f32`` bytes first and the JSONL lines
second, so every complete line points at durable embedding bytes. A crash can leave a torn last
line or unreferenced trailing floats; :func:`scan_segment` finds the last good byte of both and
the writer truncates there (the reader just ignores the tail).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

SEGMENT_GLOB = "seg-*.jsonl"


def segment_paths(task_dir: Path, number: int) -> tuple[Path, Path]:
    """The JSONL and embedding file of segment ``number``."""
    stem = task_dir / f"seg-{number:08d}"
    return stem.with_suffix(".jsonl"), stem.with_suffix(".f32")


def segment_numbers(task_dir: Path) -> list[int]:
    """Existing segment numbers, ascending."""
    return sorted(int(p.stem.split("-")[1]) for p in task_dir.glob(SEGMENT_GLOB))


@dataclass
class SegmentScan:
    """The committed content of one segment."""

    number: int
    records: list[dict[str, Any]] = field(default_factory=list)
    good_bytes: int = 0  # JSONL bytes up to and including the last good line
    emb_bytes: int = 0  # embedding bytes referenced by the good lines
    torn: bool = False  # something after the good lines was ignored


def scan_segment(task_dir: Path, number: int) -> SegmentScan:
    """Parse a segment up to its first incomplete or unreadable line."""
    jsonl, f32 = segment_paths(task_dir, number)
    emb_size = f32.stat().st_size if f32.exists() else 0
    scan = SegmentScan(number)
    data = jsonl.read_bytes()
    for line in _lines(data):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            scan.torn = True
            break
        emb = record.get("emb")
        end = int(emb[0]) + 4 * int(emb[1]) if emb else 0
        if end > emb_size:
            scan.torn = True
            break
        scan.records.append(record)
        scan.good_bytes += len(line) + 1
        scan.emb_bytes = max(scan.emb_bytes, end)
    else:
        scan.torn = scan.good_bytes < len(data)
    return scan


def _lines(data: bytes) -> Iterator[bytes]:
    """Complete ("\\n"-terminated) lines; a trailing fragment is not yielded."""
    start = 0
    while (end := data.find(b"\n", start)) != -1:
        yield data[start:end]
        start = end + 1


def truncate_to(path: Path, size: int) -> None:
    """Cut a file to ``size`` bytes (durably)."""
    if path.exists() and path.stat().st_size > size:
        with path.open("r+b") as fh:
            fh.truncate(size)
            fh.flush()
            os.fsync(fh.fileno())


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` and fsync."""
    with path.open("ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Make file creations in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
