"""Embedder throughput: texts/s at caller batch sizes 1, 32 and 256 (Banking77 sentences).

Each embedder is called with lists of ``batch`` texts (its internal batch size set to the same
value where it has one); the figure is the median of ``--repeats`` passes over ``--n`` texts
after a warm-up, in wall time and per CPU-second of the process (all its threads: less
disturbed by other load on a shared machine). Also reports load time (warm cache: ONNX export
and static distillation are one-off and cached). ``--quality SPEC...`` adds Banking77
accuracy of a logistic regression (C=10) trained on the official train split and tested on
the test split, through the embedding disk cache.

    python bench/embed_throughput.py [--specs minilm minilm-onnx static hash:384] [--n 512]
    python bench/embed_throughput.py --quality minilm-onnx static hash:384 --specs

Prints a table and writes bench/results/embed_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, Dataset, embeddings, load_dataset, machine, write_json

from tracer_stream.embed import load_embedder

BATCHED = {"minilm", "minilm-onnx"}


def banking77_accuracy(ds: Dataset, spec: str) -> float:
    from sklearn.linear_model import LogisticRegression

    X = embeddings(ds, load_embedder(spec))
    train = ds.split == "train"
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(X[train], ds.gold[train])
    return float(clf.score(X[~train], ds.gold[~train]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--specs", nargs="*", default=["minilm", "minilm-onnx", "static",
                                                       "hash:384"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32, 256])
    parser.add_argument("--n", type=int, default=512, help="texts per pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", nargs="*", default=[], metavar="SPEC")
    parser.add_argument("--out", default="embed_throughput.json",
                        help="results file name in bench/results")
    args = parser.parse_args()
    ds = load_dataset(args.data_dir, "banking77")
    texts = ds.texts[:: max(1, len(ds.texts) // args.n)][: args.n]
    rows: list[dict[str, Any]] = []
    for spec in args.specs:
        for batch in args.batches:
            options = {"batch_size": batch} if spec in BATCHED else {}
            start = time.perf_counter()
            emb = load_embedder(spec, **options)
            load_s = time.perf_counter() - start
            emb.embed(texts[:batch])
            rates, cpu_rates = [], []
            for _ in range(args.repeats):
                start, cpu0 = time.perf_counter(), time.process_time()
                for i in range(0, len(texts), batch):
                    emb.embed(texts[i:i + batch])
                rates.append(len(texts) / (time.perf_counter() - start))
                cpu_rates.append(len(texts) / max(time.process_time() - cpu0, 1e-9))
            rows.append({"spec": spec, "id": emb.identity.id, "batch": batch,
                         "texts_per_s": statistics.median(rates),
                         "texts_per_cpu_s": statistics.median(cpu_rates), "load_s": load_s,
                         "load_avg_1m": round(os.getloadavg()[0], 2)})
            print(f"{spec:12} batch {batch:>4}: {rows[-1]['texts_per_s']:9.0f} texts/s "
                  f"{rows[-1]['texts_per_cpu_s']:9.0f} texts/CPU-s (load {load_s:.2f} s, "
                  f"load avg {rows[-1]['load_avg_1m']})", flush=True)
    quality = {spec: banking77_accuracy(ds, spec) for spec in args.quality}
    for spec, acc in quality.items():
        print(f"{spec:12} Banking77 LR accuracy {acc:.3f}")
    out = write_json(args.out, {"command": "python " + " ".join(sys.argv), "machine": machine(),
                            "n": len(texts), "rows": rows, "banking77_lr_accuracy": quality})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
