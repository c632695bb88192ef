"""B8 — artefact size and load time: the data-only, Ed25519-signed format against the former
format (HMAC-signed, tree ensembles pickled), measured in the same run on the same models.

1. Tree members (random forest, extra trees, histogram boosting; the ``full`` zoo's parameters)
   fitted on Banking77 training traces: the bytes and the load time of each member's state as
   arrays (now) and as the pickled scikit-learn estimator (before), and the time to predict one
   router batch (64 rows) with our array traversal and with scikit-learn's ``predict_proba``.
   The "before" pickles are produced and read back inside this process (a baseline only: the
   library itself has no pickle left).
2. A whole artefact of the default zoo (what the trainer publishes by default): blob size and
   ``Artefact.from_bytes`` time with the Ed25519 signature, against the same payload verified
   with HMAC-SHA256 as before (everything else of the load is identical code).

    python bench/b8_artefacts.py [--n-train 3000] [--repeats 7]

Prints a table and writes bench/results/b8_artefacts.json.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import pickle  # baseline only: the "before" format; unpickles bytes made in this process
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import add_common_args, embeddings, get_embedder, load_dataset, machine, write_json

from tracer_stream.learn import Artefact, EmbedderRef, FitConfig, SigningKey, VerifyKeys, fit
from tracer_stream.learn.serialize import HEADER_LEN
from tracer_stream.learn.zoo import KINDS, member_specs


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def tree_rows(X: np.ndarray, y: np.ndarray, batch: np.ndarray, repeats: int
              ) -> list[dict[str, Any]]:
    rows = []
    specs = [(k, p) for k, p in member_specs("full")
             if k in ("random_forest", "extra_trees", "hist_gradient_boosting")]
    for kind, params in specs:
        cls = KINDS[kind]
        ours = cls(seed=0, **params).fit(X, y)
        meta, arrays = ours.get_state()
        data = npz_bytes(arrays)
        estimator = ours._make().fit(X, np.unique(y, return_inverse=True)[1])  # type: ignore[attr-defined]
        pickled = pickle.dumps(estimator)

        def load_ours(data: bytes = data, meta: dict[str, Any] = meta, cls: Any = cls) -> None:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                cls.from_state(meta, {k: npz[k] for k in npz.files})

        np.testing.assert_allclose(ours.predict_proba(batch), estimator.predict_proba(batch),
                                   atol=1e-6)
        rows.append({
            "member": kind, "bytes_arrays": len(data), "bytes_pickle": len(pickled),
            "load_s_arrays": timed(load_ours, repeats),
            "load_s_pickle": timed(lambda p=pickled: pickle.loads(p), repeats),
            "predict64_s_arrays": timed(lambda m=ours: m.predict_proba(batch), repeats),
            "predict64_s_sklearn": timed(lambda e=estimator: e.predict_proba(batch), repeats),
        })
    return rows


def artefact_row(X: np.ndarray, labels: list[str], ref: EmbedderRef, repeats: int
                 ) -> dict[str, Any]:
    art = fit(X, labels, embedder=ref, config=FitConfig(zoo="default"))
    key = SigningKey.generate()
    trusted = VerifyKeys.parse(key.public_b64)
    blob = art.to_bytes(key)
    payload = blob[HEADER_LEN:]
    secret = b"a-32-byte-hmac-key-of-the-former"
    mac = hmac.new(secret, payload, hashlib.sha256).digest()

    def load_hmac() -> None:  # the former check, then the same rebuild
        assert hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest())
        from tracer_stream.learn.serialize import _rebuild

        _rebuild(payload)

    return {"zoo": "default", "bytes_ed25519": len(blob), "bytes_hmac": 8 + 32 + len(payload),
            "load_s_ed25519": timed(lambda: Artefact.from_bytes(blob, trusted), repeats),
            "load_s_hmac": timed(load_hmac, repeats),
            "sign_s_ed25519": timed(lambda: art.to_bytes(key), repeats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    ds = load_dataset(args.data_dir, "banking77")
    train = ds.subset(ds.split == "train")
    embedder = get_embedder(args.embedder)
    X_all = embeddings(train, embedder).astype(np.float32)
    idx = np.random.default_rng(0).permutation(len(X_all))[:args.n_train]
    X, gold = X_all[idx], train.gold[idx].tolist()
    classes = sorted(set(gold))
    y = np.array([classes.index(g) for g in gold])
    batch = X_all[np.random.default_rng(1).permutation(len(X_all))[:64]]
    ref = EmbedderRef.from_dict(embedder.identity.to_dict())
    trees = tree_rows(X, y, batch, args.repeats)
    whole = artefact_row(X, gold, ref, args.repeats)
    print(f"Banking77, {len(X)} training traces x {X.shape[1]}-d ({args.embedder}), "
          f"{len(classes)} labels; medians of {args.repeats}")
    print(f"{'tree member':24} {'bytes now':>11} {'before':>11} {'load now':>9} "
          f"{'before':>9} {'predict 64 now':>15} {'sklearn':>9}")
    for r in trees:
        print(f"{r['member']:24} {r['bytes_arrays']:>11,} {r['bytes_pickle']:>11,} "
              f"{r['load_s_arrays'] * 1e3:>7.1f}ms {r['load_s_pickle'] * 1e3:>7.1f}ms "
              f"{r['predict64_s_arrays'] * 1e3:>13.2f}ms "
              f"{r['predict64_s_sklearn'] * 1e3:>7.2f}ms")
    print(f"whole artefact (default zoo): {whole['bytes_ed25519']:,} bytes "
          f"(HMAC: {whole['bytes_hmac']:,}); load {whole['load_s_ed25519'] * 1e3:.2f} ms "
          f"(HMAC: {whole['load_s_hmac'] * 1e3:.2f} ms); "
          f"sign+serialise {whole['sign_s_ed25519'] * 1e3:.2f} ms")
    path = write_json("b8_artefacts.json", {
        "machine": machine(), "n_train": len(X), "dim": int(X.shape[1]),
        "labels": len(classes), "embedder": args.embedder, "repeats": args.repeats,
        "trees": trees, "artefact": whole})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
