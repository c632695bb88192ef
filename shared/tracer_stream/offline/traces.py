"""Reading trace files: JSON Lines, optionally gzip-compressed, in two formats.

- ours: ``{"request_id"?: str, "text": str, "label": str, "gold"?: str}``
- the reference library's (``tracer-llm``): ``{"input": str, "teacher": str}``

``gold`` is the ground truth where the teacher's label may be wrong (benchmarks with a noisy
teacher). The offline commands, the replay teacher and the demo's ``--dataset`` all read
labelled files with :func:`read_traces`.

Formats may be mixed line by line. Blank lines are skipped. Every problem is a
:class:`~tracer_stream.errors.ConfigError` that names the file and the line.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
>>> _ = p.write_text('{"text": "hi", "label": "greet"}\\n{"input": "bye", "teacher": "leave"}\\n')
>>> t = read_traces(p)
>>> t.texts, t.labels, t.ids
(['hi', 'bye'], ['greet', 'leave'], ['line-1', 'line-2'])
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tracer_stream.errors import ConfigError, TracerStreamError

__all__ = ["TraceFile", "file_error", "read_traces"]

_GZIP_MAGIC = b"\x1f\x8b"
_TEXT_FIELDS = ("text", "input")
_LABEL_FIELDS = ("label", "teacher")
_ID_FIELDS = ("request_id", "id", "trace_id")
_FORMATS = 'ours {"text", "label"} or the reference format {"input", "teacher"}'


@dataclass
class TraceFile:
    """The traces of one file, in file order.

    ``ids`` are the ``request_id`` (or ``id`` / ``trace_id``) of each line, else ``line-N``;
    ``labels`` holds None where a line has no teacher label (only allowed when labels are
    optional); ``gold`` the ground truth where a line has one; ``lines`` the 1-based line
    number of each trace.
    """

    path: Path
    texts: list[str]
    labels: list[str | None]
    ids: list[str]
    lines: list[int]
    gold: list[str | None]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labelled(self) -> list[str]:
        """The labels, for files read with labels required (raises if one is missing)."""
        if any(lab is None for lab in self.labels):
            raise file_error(self.path, "some traces have no teacher label")
        return [str(lab) for lab in self.labels]


def file_error(path: str | os.PathLike[str], problem: str, *, line: int | None = None,
               kind: type[TracerStreamError] = ConfigError) -> TracerStreamError:
    """``kind("PATH[:LINE]: problem")`` with ``path`` (and ``line``) in its context.

    The context is not repeated at the end of the message, which already starts with it.
    """
    where = str(path) if line is None else f"{path}:{line}"
    err = kind(f"{where}: {problem}")
    err.context.update(path=str(path), **({} if line is None else {"line": line}))
    return err


def read_traces(path: str | os.PathLike[str], *, require_labels: bool = True) -> TraceFile:
    """Read a trace file (see the module docstring). An empty file is an error."""
    p = Path(path)
    out = TraceFile(p, [], [], [], [], [])
    for lineno, record in _records(p):
        text = _field(p, lineno, record, _TEXT_FIELDS)
        if text is None:
            raise file_error(p, f"no text: expected {_FORMATS}", line=lineno)
        label = _field(p, lineno, record, _LABEL_FIELDS)
        if label is None and require_labels:
            raise file_error(p, f"no teacher label: expected {_FORMATS}", line=lineno)
        if label == "":
            raise file_error(p, "the teacher label is empty", line=lineno)
        trace_id = _field(p, lineno, record, _ID_FIELDS)
        out.texts.append(text)
        out.labels.append(label)
        out.ids.append(trace_id if trace_id is not None else f"line-{lineno}")
        out.lines.append(lineno)
        out.gold.append(_field(p, lineno, record, ("gold",)))
    if not out.texts:
        raise file_error(p, "no traces (the file is empty)")
    return out


def _open(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed when it starts with the gzip magic (any extension)."""
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")
    except OSError as exc:
        raise file_error(path, f"cannot read the trace file ({exc.strerror})") from None


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    lineno = 0
    with _open(path) as fh:
        try:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise file_error(path, f"not valid JSON ({exc.msg}, column {exc.colno})",
                                     line=lineno) from None
                if not isinstance(record, dict):
                    raise file_error(path, "expected a JSON object, got "
                                     f"{type(record).__name__}", line=lineno)
                yield lineno, record
        except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip
            raise file_error(path, f"cannot decompress ({exc})", line=lineno + 1) from None


def _field(path: Path, lineno: int, record: dict[str, Any], names: tuple[str, ...]
           ) -> str | None:
    """The first of ``names`` present in ``record``, as a string (integers are accepted)."""
    for name in names:
        value = record.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise file_error(path, f"{name!r} must be a string, got {type(value).__name__}",
                             line=lineno)
        return str(value)
    return None
