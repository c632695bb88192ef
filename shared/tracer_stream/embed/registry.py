"""Embedder specs: ``load_embedder("minilm-onnx")`` and friends.

========================  ==================================================================
spec                      embedder
========================  ==================================================================
``minilm``                all-MiniLM-L6-v2, sentence-transformers + torch (reference quality)
``minilm-onnx``           the same model in onnxruntime, int8 per-channel (fast CPU default)
``static``                model2vec-style static table distilled from MiniLM (fastest)
``hash:DIM``              dependency-free hashing embedder (tests, CI); ``hash`` = 256-d
``http(s)://...``         an OpenAI-compatible ``/v1/embeddings`` endpoint
========================  ==================================================================

Keyword options go to the implementation's constructor (``batch_size``, ``threads``,
``cache_dir``, ``api_key``, ``model``...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from tracer_stream.embed.base import Embedder
from tracer_stream.errors import EmbedderError

__all__ = ["EMBEDDERS", "load_embedder"]

Factory = Callable[..., Embedder]


def _minilm(arg: str | None, **options: Any) -> Embedder:
    from tracer_stream.embed.minilm_torch import MiniLMEmbedder

    return MiniLMEmbedder(**options)


def _minilm_onnx(arg: str | None, **options: Any) -> Embedder:
    from tracer_stream.embed.minilm_onnx import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(**options)


def _static(arg: str | None, **options: Any) -> Embedder:
    from tracer_stream.embed.static import StaticEmbedder

    if arg is not None:
        options.setdefault("dims", _int_arg("static", arg))
    return StaticEmbedder(**options)


def _hash(arg: str | None, **options: Any) -> Embedder:
    from tracer_stream.embed.hashing import HashEmbedder

    if arg is not None:
        options.setdefault("dim", _int_arg("hash", arg))
    return HashEmbedder(**options)


def _http(arg: str | None, **options: Any) -> Embedder:
    from tracer_stream.embed.remote import HttpEmbedder

    assert arg is not None  # load_embedder passes the whole URL
    return HttpEmbedder(arg, **options)


EMBEDDERS: Mapping[str, Factory] = MappingProxyType({
    "minilm": _minilm,
    "minilm-onnx": _minilm_onnx,
    "static": _static,
    "hash": _hash,
    "http": _http,
    "https": _http,
})
"""Spec prefix → factory ``(arg, **options) -> Embedder``; the table in the module docstring."""


def load_embedder(spec: str, **options: Any) -> Embedder:
    """Build the embedder named by ``spec`` (see the module docstring)."""
    arg: str | None
    if "://" in spec:
        kind, arg = spec.split("://", 1)[0].lower(), spec
    else:
        kind, _, rest = spec.partition(":")
        arg = rest or None
    factory = EMBEDDERS.get(kind)
    if factory is None:
        raise EmbedderError(f"unknown embedder spec {spec!r}; known: {', '.join(EMBEDDERS)}")
    return factory(arg, **options)


def _int_arg(kind: str, arg: str) -> int:
    try:
        return int(arg)
    except ValueError:
        raise EmbedderError(f"{kind}:DIM needs an integer dimension", spec=f"{kind}:{arg}") \
            from None
