"""MiniLM ONNX: batch invariance, fidelity to torch and throughput, before and after.

"before" is the int8 graph run the old way (rows sorted by length and batched, one shared
dynamic-quantisation range per call, reconstructed here through the embedder's own session);
"after" is the shipped int8 embedder (one row per call); "fp32" the unquantised graph, batched.
For each: the worst and mean cosine between a text embedded alone and inside the caller's
batches, the mean and worst cosine against sentence-transformers (torch), and texts/s at caller
batch sizes 1 and ``--batch`` (median over ``--rounds`` interleaved rounds, with the ratio
after/before of each round, so a drifting machine load cancels out).

    nice -n 10 python bench/embed_batch_invariance.py [--n 256] [--rounds 3] [--batch 32]

Prints a table and writes bench/results/embed_batch_invariance.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from _common import DEFAULT_DATA, load_dataset, machine, write_json

from tracer_stream.embed import load_embedder
from tracer_stream.embed.base import embed_by_length
from tracer_stream.embed.minilm_onnx import OnnxMiniLMEmbedder
from tracer_stream.embed.packaged import MINILM_DIM

Embed = Callable[[Sequence[str]], np.ndarray]


def batched_int8(emb: OnnxMiniLMEmbedder, batch: int) -> Embed:
    """The int8 graph as it ran before: length-sorted batches of ``batch`` rows per call."""
    def run(texts: Sequence[str]) -> np.ndarray:
        ids = [e.ids for e in emb._tokenizer.encode_batch(list(texts))]
        return embed_by_length(ids, batch, emb._run, MINILM_DIM)
    return run


def in_batches(embed: Embed, texts: list[str], batch: int) -> np.ndarray:
    return np.vstack([embed(texts[i:i + batch]) for i in range(0, len(texts), batch)])


def rate(embed: Embed, texts: list[str], batch: int) -> float:
    start = time.perf_counter()
    in_batches(embed, texts, batch)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    ds = load_dataset(DEFAULT_DATA, "banking77")
    rng = np.random.default_rng(0)
    texts = [ds.texts[i] for i in rng.choice(len(ds.texts), args.n, replace=False)]
    int8 = load_embedder("minilm-onnx")
    assert isinstance(int8, OnnxMiniLMEmbedder)
    fp32 = load_embedder("minilm-onnx", quantize=False, batch_size=args.batch)
    ways: dict[str, Embed] = {"before (int8, batched)": batched_int8(int8, args.batch),
                              "after (int8, per row)": int8.embed,
                              "fp32 (batched)": fp32.embed}
    torch_x = load_embedder("minilm", threads=1).embed(texts)
    rows: list[dict[str, Any]] = []
    for name, embed in ways.items():
        alone = np.vstack([embed([t]) for t in texts])
        together = in_batches(embed, texts, args.batch)
        cos = (alone * together).sum(axis=1)
        to_torch = (together * torch_x).sum(axis=1)
        rows.append({"way": name, "alone_vs_batch_min_cos": float(cos.min()),
                     "alone_vs_batch_mean_cos": float(cos.mean()),
                     "bitwise_share": float((alone == together).all(axis=1).mean()),
                     "vs_torch_mean_cos": float(to_torch.mean()),
                     "vs_torch_min_cos": float(to_torch.min())})
    speeds: dict[str, dict[int, list[float]]] = {w: {1: [], args.batch: []} for w in ways}
    for _ in range(args.rounds):
        for batch in (1, args.batch):
            for name, embed in ways.items():
                speeds[name][batch].append(rate(embed, texts, batch))
    before = "before (int8, batched)"
    for row in rows:
        for batch in (1, args.batch):
            mine, base = speeds[row["way"]][batch], speeds[before][batch]
            row[f"texts_per_s_b{batch}"] = statistics.median(mine)
            row[f"ratio_to_before_b{batch}"] = statistics.median(
                m / b for m, b in zip(mine, base, strict=True))
    for r in rows:
        print(f"{r['way']:24} alone/batch min cos {r['alone_vs_batch_min_cos']:.6f} "
              f"bitwise {100 * r['bitwise_share']:5.1f}%  vs torch mean "
              f"{r['vs_torch_mean_cos']:.4f} min {r['vs_torch_min_cos']:.4f}  "
              f"texts/s b1 {r['texts_per_s_b1']:6.0f} (x{r['ratio_to_before_b1']:.2f}) "
              f"b{args.batch} {r[f'texts_per_s_b{args.batch}']:6.0f} "
              f"(x{r[f'ratio_to_before_b{args.batch}']:.2f})")
    out = write_json("embed_batch_invariance.json", {
        "command": "python " + " ".join(sys.argv), "machine": machine(), "n": len(texts),
        "rows": rows, "speeds": speeds})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
