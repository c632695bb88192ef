"""B5 — the trainer's trace snapshot: rebuild rate from the traces topic, refit read time, disk.

* **refit read** at each ``--rows`` (default 100k and 1M): synthetic traces with 384-d float32
  embeddings written through :class:`~tracer_stream.training.TraceSnapshot` in batches of
  ``--batch`` (parts, merges and fsyncs included), then what a refit reads
  (:meth:`TraceTable.load` + :meth:`TraceTable.embeddings`). Baseline in the same run: reading
  the same float32 matrix from one raw ``.npy`` file (``np.load``), the floor of any store.
  Disk: bytes of the task's Parquet parts, per million traces.
  **Bounded read** in the same run: the same load, the calibration partition, then the refit's
  bounds (:func:`~tracer_stream.training.bounds.bound_rows`: at most ``--label-cap`` training rows
  per label, a uniform reservoir of ``--reservoir`` calibration rows) and the embeddings of the
  kept rows only; rows and embedding-matrix bytes held, with and without the bounds.
* **rebuild** (``--rebuild``): ``--rebuild`` traces produced to a topic of the embedded broker,
  then read back by :func:`~tracer_stream.training.catchup.catch_up` into an empty snapshot
  (decode + Parquet + fsync). Baselines in the same run: the same catch-up with a handler that
  only keeps the bytes (the consumer's own rate), and decoding those bytes alone (the message
  contract's validation).

    nice -n 10 python bench/b5_trace_store.py [--rows 100000 1000000] [--rebuild 20000]
        [--label-cap 1000] [--reservoir 5000]

Prints a table and writes bench/results/b5_trace_store.json (``--out``). Both measurements
read from the page cache (files just written), as a refit right after a restart would not.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine, write_json

from tracer_stream.contracts import Trace, decode
from tracer_stream.contracts.dead_letters import Source
from tracer_stream.training import TraceSnapshot, TraceTable, calibration_mask
from tracer_stream.training.bounds import bound_rows

DIM = 384
TASK = "bench"
EMBEDDER = f"synthetic/{DIM}/bench"
LABELS = [f"label_{i:02d}" for i in range(77)]


def synthetic(start: int, n: int, rng: np.random.Generator) -> list[Trace]:
    """``n`` traces with ids ``start…``, 77 labels, ~60-character texts, 384-d embeddings."""
    X = rng.standard_normal((n, DIM), dtype=np.float32)
    labels = rng.integers(0, len(LABELS), n)
    audit = rng.random(n) < 0.1
    return [Trace(request_id=f"req-{start + i:09d}", task=TASK,
                  text=f"synthetic request {start + i} about {LABELS[labels[i]]} and my card",
                  label=LABELS[labels[i]], audit=bool(audit[i]), gate_accepted=bool(audit[i]),
                  surrogate_label=LABELS[labels[i]], model_version="v1", accept_score=0.9,
                  embedding=X[i].tolist(), embedder_id=EMBEDDER) for i in range(n)]


def refit_read(rows: int, batch: int, workdir: Path, label_cap: int, reservoir: int
               ) -> dict[str, Any]:
    root = workdir / f"snapshot-{rows}"
    rng = np.random.default_rng(rows)
    store = TraceSnapshot(root)
    write_s = 0.0
    for start in range(0, rows, batch):
        traces = synthetic(start, min(batch, rows - start), rng)
        t0 = time.perf_counter()
        store.append(traces)
        write_s += time.perf_counter() - t0
    del store
    t0 = time.perf_counter()
    table = TraceTable.load(root, TASK)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X, have = table.embeddings(EMBEDDER, DIM)
    emb_s = time.perf_counter() - t0
    assert len(table) == rows and have.all()
    raw = workdir / "raw.npy"
    np.save(raw, X)
    t0 = time.perf_counter()
    floor = np.load(raw)
    raw_s = time.perf_counter() - t0
    assert floor.shape == X.shape
    raw.unlink()
    full_bytes = X.nbytes
    del X, floor, table
    bounded = bounded_read(root, label_cap, reservoir)
    bounded["matrix_bytes_unbounded"] = full_bytes
    disk = sum(p.stat().st_size for p in (root / TASK).glob("*.parquet"))
    parts = len(list((root / TASK).glob("*.parquet")))
    shutil.rmtree(root)
    return {"rows": rows, "write_s": write_s, "write_traces_per_s": rows / write_s,
            "refit_read_s": load_s + emb_s, "load_columns_s": load_s, "embeddings_s": emb_s,
            "raw_npy_read_s": raw_s, "ratio_to_raw": (load_s + emb_s) / raw_s,
            "parts": parts, "disk_bytes": disk, "disk_gb_per_million": disk / rows * 1e6 / 1e9,
            "bounded": bounded}


def bounded_read(root: Path, label_cap: int, reservoir: int) -> dict[str, Any]:
    """What a bounded refit reads and holds: columns, partition, bounds, kept embeddings."""
    t0 = time.perf_counter()
    table = TraceTable.load(root, TASK)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    held_out = calibration_mask(table.request_ids, table.audit, table.model_version, 0.3,
                                table.reasons)
    mask_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kept = bound_rows(np.arange(len(table)), held_out, table.labels, table.request_ids,
                      label_cap=label_cap, reservoir=reservoir)
    bound_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X, have = table.embeddings(EMBEDDER, DIM, kept)
    emb_s = time.perf_counter() - t0
    assert have.all() and len(X) == len(kept)
    return {"label_cap": label_cap, "reservoir": reservoir, "rows": len(table),
            "calibration_rows": int(held_out.sum()), "kept_rows": len(kept),
            "kept_calibration_rows": int(held_out[kept].sum()),
            "read_s": load_s + mask_s + bound_s + emb_s, "load_columns_s": load_s,
            "calibration_mask_s": mask_s, "bound_s": bound_s, "embeddings_s": emb_s,
            "matrix_bytes": X.nbytes}


def rebuild(n: int, workdir: Path) -> dict[str, Any]:
    from tracer_stream.bus import Producer, ensure_topics
    from tracer_stream.config import TopicSettings
    from tracer_stream.stack import EmbeddedStack, free_port
    from tracer_stream.training.catchup import catch_up

    topics = TopicSettings(prefix="b5.")
    stack = EmbeddedStack(workdir / "stack", kafka_port=free_port(), redis_port=free_port(),
                          topics=topics)
    stack.up()
    try:
        ensure_topics(stack.kafka, topics)
        topic = topics.name("traces")
        producer = Producer(stack.kafka)
        rng = np.random.default_rng(0)
        for start in range(0, n, 5000):
            for t in synthetic(start, min(5000, n - start), rng):
                producer.send(topic, t, key=t.request_id)
            producer.flush_or_raise()
        producer.close()

        kept: list[bytes] = []

        def count(raws: Sequence[bytes], sources: Sequence[Source]) -> None:
            kept.extend(raws)

        t0 = time.perf_counter()
        consumed = catch_up(stack.kafka, topic, "b5-baseline", {}, count, idle_s=2.0)
        consume_s = time.perf_counter() - t0 - 2.0 * (consumed < n)

        t0 = time.perf_counter()
        for raw in kept:
            decode(Trace, raw)
        decode_s = time.perf_counter() - t0
        store = TraceSnapshot(workdir / "rebuilt")

        def ingest(raws: Sequence[bytes], sources: Sequence[Source]) -> None:
            store.append([decode(Trace, r) for r in raws], sources)
            store.cover(sources)

        t0 = time.perf_counter()
        rebuilt = catch_up(stack.kafka, topic, "b5-rebuild", {}, ingest, idle_s=2.0)
        rebuild_s = time.perf_counter() - t0 - 2.0 * (rebuilt < n)
        assert store.count(TASK) == n, (store.count(TASK), n)
    finally:
        stack.down()
    return {"traces": n, "rebuilt": rebuilt, "rebuild_s": rebuild_s,
            "rebuild_traces_per_s": n / rebuild_s, "consume_only_s": consume_s,
            "consume_only_traces_per_s": consumed / consume_s,
            "ratio_to_consume_only": rebuild_s / consume_s,
            "decode_only_s": decode_s, "decode_only_traces_per_s": len(kept) / decode_s,
            "note": "when a partition's end is under-reported the catch-up stops on idle; the "
                    "idle wait is subtracted"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rebuild", type=int, default=20_000)
    parser.add_argument("--label-cap", type=int, default=1000)
    parser.add_argument("--reservoir", type=int, default=5000)
    parser.add_argument("--out", default="b5_trace_store.json",
                        help="results file name under bench/results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b5-") as tmp:
        work = Path(tmp)
        reads = [refit_read(rows, args.batch, work, args.label_cap, args.reservoir)
                 for rows in args.rows]
        rebuilt = rebuild(args.rebuild, work) if args.rebuild else None
    print(f"{'rows':>9} {'write tr/s':>10} {'refit read s':>12} {'raw npy s':>9} "
          f"{'ratio':>6} {'parts':>5} {'GB/1M':>6}")
    for r in reads:
        print(f"{r['rows']:>9,} {r['write_traces_per_s']:>10,.0f} {r['refit_read_s']:>12.2f} "
              f"{r['raw_npy_read_s']:>9.2f} {r['ratio_to_raw']:>6.2f} {r['parts']:>5} "
              f"{r['disk_gb_per_million']:>6.2f}")
    for r in reads:
        b = r["bounded"]
        print(f"{r['rows']:>9,} bounded (cap {b['label_cap']}, reservoir {b['reservoir']}): "
              f"{b['read_s']:.2f} s (columns {b['load_columns_s']:.2f}, partition "
              f"{b['calibration_mask_s']:.2f}, bounds {b['bound_s']:.2f}, embeddings "
              f"{b['embeddings_s']:.2f}); kept {b['kept_rows']:,} rows "
              f"({b['kept_calibration_rows']:,} of {b['calibration_rows']:,} calibration); "
              f"matrix {b['matrix_bytes'] / 1e9:.3f} GB vs "
              f"{b['matrix_bytes_unbounded'] / 1e9:.3f} GB")
    if rebuilt:
        print(f"rebuild of {rebuilt['traces']:,} traces: {rebuilt['rebuild_traces_per_s']:,.0f} "
              f"traces/s; consume only {rebuilt['consume_only_traces_per_s']:,.0f} traces/s "
              f"(ratio {rebuilt['ratio_to_consume_only']:.2f}); decode only "
              f"{rebuilt['decode_only_traces_per_s']:,.0f} traces/s")
    path = write_json(args.out, {"machine": machine(), "args": vars(args),
                                         "refit_read": reads, "rebuild": rebuilt})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
