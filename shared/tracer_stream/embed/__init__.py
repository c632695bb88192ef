"""Embedders: texts in, float32 matrices out, each with a stable identity.

>>> from tracer_stream.embed import load_embedder
>>> emb = load_embedder("hash:64")
>>> emb.embed(["where is my card?"]).shape, emb.identity.id[:8]
((1, 64), 'hash/64/')

Specs and options are listed in :mod:`tracer_stream.embed.registry`; the disk cache for
benchmarks is :class:`tracer_stream.embed.cache.EmbeddingDiskCache`. Heavy dependencies (torch,
onnxruntime) are imported only when an embedder that needs them is loaded.
"""

from tracer_stream.embed.base import Embedder
from tracer_stream.embed.identity import EmbedderRef
from tracer_stream.embed.registry import EMBEDDERS, load_embedder

__all__ = ["EMBEDDERS", "Embedder", "EmbedderRef", "load_embedder"]
