"""Synthetic trace files and an in-process CLI runner for the offline command tests.

The traces are four intents written from small vocabularies, a share of them mixing words of
two intents (hard inputs the gate should defer) and a few teacher labels flipped (noise), so a
model fitted on them has both handled and deferred traffic. One label carries HTML characters
and one held-out text is a ``<script>`` tag, to check escaping.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracer_stream.cli.main import main
from tracer_stream.signing import SigningKey, VerifyKeys

KEY_ENV = "TRACER_STREAM_MODEL_SIGNING_KEY"
MODEL_KEY = SigningKey.generate()
"""The signing key of this test session's offline models."""
TRUSTED = VerifyKeys.parse(MODEL_KEY.public_b64)
EMBEDDER = "hash:256"
SCRIPT_TEXT = "<script>alert('x')</script> my card never arrived"
HOSTILE_LABEL = "<img src=x onerror=alert(1)>"  # a teacher label the model never saw
VOCAB = {
    "card_arrival": ["card", "arrive", "delivery", "post", "mail", "waiting"],
    "transfer": ["transfer", "send", "wire", "recipient", "iban", "payment"],
    "refund": ["refund", "money", "back", "merchant", "return", "dispute"],
    "pin & <code>": ["pin", "blocked", "code", "unlock", "forgot", "locked"],
}
_FILLER = ["please", "help", "my", "why", "is", "the", "today", "urgent", "again", "still", "hi"]


def make_traces(n: int, seed: int, *, mix: float = 0.4, noise: float = 0.03
                ) -> list[tuple[str, str]]:
    """``n`` (text, teacher label) pairs."""
    rng = random.Random(seed)
    labels = list(VOCAB)
    out = []
    for _ in range(n):
        label = rng.choice(labels)
        words = rng.sample(VOCAB[label], 3) + rng.sample(_FILLER, 3)
        if rng.random() < mix:
            words += rng.sample(VOCAB[rng.choice(labels)], 3)
        rng.shuffle(words)
        teacher = label if rng.random() > noise else rng.choice(labels)
        out.append((" ".join(words), teacher))
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]], *, gz: bool = False) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def ours(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"text": t, "label": y} for t, y in pairs]


def reference(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"input": t, "teacher": y} for t, y in pairs]


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str | Path) -> Run:
    """``tracer-stream ARGS`` in process, with its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return Run(code, out.getvalue(), err.getvalue())


@dataclass
class Fitted:
    """A model fitted once per module by ``tracer-stream fit``, with its files."""

    dir: Path
    train: Path
    heldout: Path
    model: Path
    fit: Run
