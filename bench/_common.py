"""Shared plumbing of the benchmarks: datasets, simulated teachers, cached embeddings, stats.

Datasets are ``<data-dir>/<name>.jsonl.gz`` (``{"text", "label", "split"}`` a line); the data
directory defaults to ``<repo>/../shared/data``. Embeddings are cached by
:class:`~tracer_stream.embed.cache.EmbeddingDiskCache` under the cache root
(``$TRACER_STREAM_CACHE_DIR`` or ``~/.cache/tracer-stream``), never in the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracer_stream.embed import Embedder, load_embedder
from tracer_stream.embed.base import cache_root
from tracer_stream.embed.cache import EmbeddingDiskCache

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data"
NOISE_RATE = 0.08
NOISE_SEED = 8
FILES = {"banking77": "banking77", "clinc150": "clinc150", "mnli_subset": "mnli_subset"}


@dataclass(frozen=True)
class Dataset:
    """Rows of one data file: texts, gold labels and official splits (parallel arrays)."""

    name: str
    texts: list[str]
    gold: np.ndarray
    split: np.ndarray

    def subset(self, mask: np.ndarray, name: str | None = None) -> Dataset:
        idx = np.flatnonzero(mask)
        return Dataset(name or self.name, [self.texts[i] for i in idx], self.gold[idx],
                       self.split[idx])


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                        help="folder with <name>.jsonl.gz (default: <repo>/../shared/data)")
    parser.add_argument("--embedder", default="minilm-onnx",
                        help="embedder spec (minilm-onnx, minilm, static, hash:384, URL)")


def load_dataset(data_dir: Path, file: str) -> Dataset:
    path = Path(data_dir) / f"{file}.jsonl.gz"
    if not path.is_file():
        sys.exit(f"error: dataset {path} not found; pass --data-dir pointing at the folder "
                 f"holding {file}.jsonl.gz (see ../shared/data/README.md)")
    texts, gold, split = [], [], []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                texts.append(str(row["text"]))
                gold.append(str(row["label"]))
                split.append(str(row["split"]))
            except (ValueError, KeyError) as exc:
                sys.exit(f"error: {path}:{lineno}: bad row ({exc})")
    return Dataset(file, texts, np.asarray(gold, dtype=object), np.asarray(split, dtype=object))


def teacher_labels(ds: Dataset, teacher: str) -> np.ndarray:
    """``gold``: the dataset label. ``noisy8``: 8% of rows (fixed seed, per dataset) get a label
    drawn uniformly from the other classes, like an LLM's mistakes."""
    if teacher == "gold":
        return ds.gold.copy()
    if teacher != "noisy8":
        raise ValueError(f"unknown teacher {teacher!r}")
    rng = np.random.default_rng([NOISE_SEED, sum(map(ord, ds.name))])
    classes = np.asarray(sorted(set(ds.gold.tolist())), dtype=object)
    out = ds.gold.copy()
    flip = np.flatnonzero(rng.random(len(out)) < NOISE_RATE)
    for i in flip:
        others = classes[classes != out[i]]
        out[i] = others[rng.integers(len(others))]
    return out


def embeddings(ds: Dataset, embedder: Embedder) -> np.ndarray:
    """Embeddings of every row of ``ds`` through the disk cache."""
    return EmbeddingDiskCache().get_or_compute(embedder, ds.texts)


def get_embedder(spec: str) -> Embedder:
    return load_embedder(spec)


def machine() -> dict[str, Any]:
    """Where and on what code a result was measured (load average: the machine is shared)."""
    def git(*cmd: str) -> str:
        run = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True)
        return run.stdout.strip()

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
            "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_learn_changes": bool(
                git("status", "--porcelain", "shared/tracer_stream/learn"))}


def bench_cache() -> Path:
    path = cache_root() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / name
    out.write_text(json.dumps(payload, indent=2, default=_jsonable))
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x))


def oracle_coverage(scores: np.ndarray, agree: np.ndarray, alpha: float) -> float:
    """Largest share of rows a single threshold on ``scores`` can accept with agreement >= α,
    chosen with hindsight on these rows (NaN scores are never accepted)."""
    n = len(scores)
    ok = np.isfinite(scores)
    if n == 0 or not ok.any():
        return 0.0
    s, a = scores[ok], agree[ok].astype(np.int64)
    order = np.argsort(-s, kind="stable")
    s, a = s[order], a[order]
    cum = np.cumsum(a)
    k = np.arange(1, len(s) + 1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold accepts whole tie groups
    valid = last_of_tie & (cum >= alpha * k)
    return float(k[valid].max() / n) if valid.any() else 0.0
