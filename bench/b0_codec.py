"""B0 — cost of the message contracts on the hot path.

Measures decode (orjson parse + JSON Schema validation + record construction) and encode for a
ClassificationRequest and an LLMRequest with a 384-d embedding, against plain ``orjson.loads``
as the floor and the ``jsonschema`` reference validator as the naive alternative.

    python bench/b0_codec.py [--n 20000]

Prints a table and writes bench/results/b0_codec.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import orjson

from tracer_stream.contracts import ClassificationRequest, LLMRequest, decode, encode, load_schema


def _per_call_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    request = ClassificationRequest("req-123456", "banking", "I still have not received my new "
                                    "card, when will it arrive?", metadata={"user": "u-42"})
    deferred = LLMRequest("req-123456", "banking", request.text, answer_requester=True,
                          audit=False, gate_accepted=False, reason="below_threshold",
                          model_version="v7", surrogate_label="card_arrival", accept_score=0.41,
                          embedding=[0.01 * i for i in range(384)], embedder_id="minilm/384/x")
    rows = []
    for name, message in (("ClassificationRequest", request), ("LLMRequest 384-d", deferred)):
        raw = encode(message)
        schema = load_schema(message.KIND)
        validator = jsonschema.Draft202012Validator(schema)
        cls = type(message)
        rows.append({
            "message": name,
            "bytes": len(raw),
            "orjson_loads_us": _per_call_us(lambda raw=raw: orjson.loads(raw), args.n),
            "decode_validated_us": _per_call_us(lambda raw=raw, cls=cls: decode(cls, raw), args.n),
            "encode_us": _per_call_us(lambda m=message: encode(m), args.n),
            "jsonschema_validate_us": _per_call_us(
                lambda raw=raw, v=validator: v.validate(orjson.loads(raw)), max(1, args.n // 20)),
        })
    print(f"{'message':24} {'bytes':>6} {'orjson':>8} {'decode':>8} {'encode':>8} "
          f"{'jsonschema':>11}  (µs per message, median of 5)")
    for r in rows:
        print(f"{r['message']:24} {r['bytes']:>6} {r['orjson_loads_us']:>8.2f} "
              f"{r['decode_validated_us']:>8.2f} {r['encode_us']:>8.2f} "
              f"{r['jsonschema_validate_us']:>11.2f}")
    out = Path(__file__).parent / "results" / "b0_codec.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "n": args.n, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
