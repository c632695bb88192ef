"""A static (model2vec-style) embedder distilled from all-MiniLM-L6-v2: >10k texts/s.

Distillation, done once and cached on disk: every vocabulary token is run through the
transformer as ``[CLS] token [SEP]`` and mean-pooled; the table is centred, reduced by PCA to
``dims`` and each token row is weighted by ``sif / (sif + p(token))`` with a Zipf estimate of
``p`` from the vocabulary rank (the SIF weighting model2vec uses; without it Banking77 accuracy
drops from ~0.89 to ~0.27). A text is the mean of its tokens' rows, L2-normalised; a text
without tokens embeds as ``[UNK]``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tracer_stream.embed.base import cache_root, l2_normalize
from tracer_stream.embed.identity import EmbedderRef, digest_params
from tracer_stream.embed.packaged import load_tokenizer, minilm_digest, minilm_dir
from tracer_stream.errors import EmbedderError
from tracer_stream.extras import needs_extra

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["StaticEmbedder", "distill_minilm"]

_BATCH = 1024


class StaticEmbedder:
    """Mean of distilled token vectors (``dims``-d, normalised); ``sif`` weights tokens."""

    def __init__(
        self, dims: int = 256, sif: float = 1e-4,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 2 <= dims <= 384:
            raise EmbedderError("static embedder dims must be in [2, 384]", dims=dims)
        fp = digest_params(recipe="static-v1", source=minilm_digest(), dims=dims, sif=sif)
        self._identity = EmbedderRef(name="static", dim=dims, normalized=True, fingerprint=fp)
        path = cache_root(cache_dir) / "static" / f"static-{dims}-{fp[:16]}.npy"
        if not path.is_file():
            _save_atomic(path, distill_minilm(dims, sif))
        self._table = np.load(path)
        self._tokenizer = load_tokenizer(None)
        self._unk = special_token_id(self._tokenizer, "[UNK]")
        self.table_path = path

    @property
    def identity(self) -> EmbedderRef:
        return self._identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        n = len(texts)
        if n == 0:
            return np.empty((0, self._identity.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ids = [e.ids or [self._unk] for e in encodings]  # an empty text embeds as [UNK]
        counts = np.fromiter((len(i) for i in ids), dtype=np.int64, count=n)
        flat = np.fromiter((t for row in ids for t in row), dtype=np.int64,
                           count=int(counts.sum()))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        sums = np.add.reduceat(self._table[flat], starts, axis=0)
        return l2_normalize(sums / counts[:, None])


def special_token_id(tokenizer: Tokenizer, token: str) -> int:
    """The id of a special token the MiniLM vocabulary must contain."""
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise EmbedderError(f"tokenizer has no {token} token", token=token)
    return int(token_id)


def distill_minilm(dims: int, sif: float) -> np.ndarray:
    """Build the ``(vocab, dims)`` float32 token table from the packaged MiniLM (needs torch)."""
    with needs_extra("torch", "distilling the static embedder (`tracer-stream embed warmup`)"):
        import torch
        from transformers import AutoModel

    model = AutoModel.from_pretrained(str(minilm_dir())).eval()
    tok = load_tokenizer(None)
    cls_id, sep_id = special_token_id(tok, "[CLS]"), special_token_id(tok, "[SEP]")
    vocab = tok.get_vocab_size()
    table = np.empty((vocab, model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, vocab, _BATCH):
            ids = torch.arange(start, min(vocab, start + _BATCH))
            seq = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], 1)
            hidden = model(input_ids=seq, attention_mask=torch.ones_like(seq)).last_hidden_state
            table[start:start + len(ids)] = hidden.mean(dim=1).numpy()
    centred = table - table.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:dims]
    axes *= np.sign(axes[np.arange(dims), np.abs(axes).argmax(axis=1)])[:, None]  # fixed signs
    reduced = centred @ axes.T
    zipf = 1.0 / np.arange(1, vocab + 1)
    weights = sif / (sif + zipf / zipf.sum())
    return (reduced * weights[:, None]).astype(np.float32)


def _save_atomic(path: Path, table: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
    with os.fdopen(fd, "wb") as fh:
        np.save(fh, table)
    os.replace(tmp, path)
