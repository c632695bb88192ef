"""all-MiniLM-L6-v2 in onnxruntime, int8 per-channel quantised: the fast CPU path.

On first use the packaged safetensors are exported with ``torch.onnx`` and quantised with
onnxruntime's dynamic int8 quantisation, per output channel (per-tensor quantisation drifts to
cosine ~0.97 against torch; per-channel stays above 0.99). The result is cached under the cache
directory with the fingerprint in its file name, so a new model or recipe gets a new file.
Afterwards only onnxruntime, numpy and ``tokenizers`` are needed (no torch).

Dynamic quantisation scales each activation tensor by its range in the current call, and a
batched call shares one range across every row and every padding position: a text's vector
then depends on its batch (cosine 0.98 at worst between alone and in a batch of 32 on
Banking77) and drifts further from torch (mean cosine 0.989 on the contract texts with batches
of 4). The int8 graph therefore runs one text per call, with no padding: its vectors are
bitwise the same whatever the batch. The fp32 graph has no data-dependent scales and runs in
batches sorted by length (bitwise batch-invariant on this machine; checked by
``tests/unit/embed/test_batch_invariance.py``). Measurements in ``BENCHMARKS.md`` (embedders).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tracer_stream.embed.base import cache_root, embed_by_length, l2_normalize
from tracer_stream.embed.identity import EmbedderRef, digest_params
from tracer_stream.embed.packaged import (
    MAX_SEQ_LENGTH,
    MINILM_DIM,
    load_tokenizer,
    minilm_digest,
    minilm_dir,
)
from tracer_stream.extras import needs_extra

__all__ = ["OnnxMiniLMEmbedder", "export_minilm_onnx"]

_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxMiniLMEmbedder:
    """MiniLM (384-d, mean pooling, normalised) in onnxruntime.

    ``quantize=False`` keeps fp32 weights (slower, bit-closer to torch). ``batch_size`` is the
    rows per call of the fp32 graph; the int8 graph always runs one row per call (see the
    module docstring). ``threads`` sets onnxruntime's intra-op threads (``None``: all cores).
    """

    def __init__(
        self,
        batch_size: int = 32,
        quantize: bool = True,
        threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self._batch_size = 1 if quantize else int(batch_size)
        scheme = "int8-per-channel" if quantize else "fp32"
        recipe = {"recipe": "onnx-v1", "source": minilm_digest(), "opset": _OPSET,
                  "quantization": scheme, "max_len": MAX_SEQ_LENGTH}
        file_fp = digest_params(**recipe)  # what the exported graph depends on
        # how it is run changes the vectors too: one row per int8 call
        fp = digest_params(**recipe, rows_per_call=1) if quantize else file_fp
        name = "minilm-onnx" if quantize else "minilm-onnx-fp32"
        self._identity = EmbedderRef(name=name, dim=MINILM_DIM, normalized=True, fingerprint=fp)
        path = cache_root(cache_dir) / "onnx" / f"{name}-{file_fp[:16]}.onnx"
        if not path.is_file():
            export_minilm_onnx(path, quantize=quantize)
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._tokenizer = load_tokenizer(MAX_SEQ_LENGTH)
        self.model_path = path

    @property
    def identity(self) -> EmbedderRef:
        return self._identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        return embed_by_length(ids, self._batch_size, self._run, MINILM_DIM)

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(i) for i in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for r, row in enumerate(batch):
            input_ids[r, :len(row)] = row
            mask[r, :len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask,
                 "token_type_ids": np.zeros_like(input_ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalize(pooled)


def export_minilm_onnx(dest: Path, quantize: bool = True) -> Path:
    """Export the packaged MiniLM transformer to ONNX at ``dest`` (atomically).

    Needs torch and transformers (only at export time). Pooling and normalisation stay in numpy.
    """
    with needs_extra("torch", "exporting MiniLM to ONNX (`tracer-stream embed warmup`)"):
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

    class _Encoder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    dest.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(minilm_dir())).eval()
    ids = torch.full((2, 8), 1000, dtype=torch.long)
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 4:] = 0  # a padded row, so the traced graph keeps the attention mask
    dummy = (ids, mask, torch.zeros_like(ids))
    axes = {k: {0: "batch", 1: "seq"} for k in (*_INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        # Tracing warns about Python-level shape checks in transformers' masking code (they
        # compare lengths that are equal for every input we feed: no KV cache) and the exporter
        # about advanced indexing with negative indices (there are none). The parity test
        # against torch (tests/unit/embed/test_models.py) checks the exported graph.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
            torch.onnx.export(_Encoder(model), dummy, str(fp32), input_names=list(_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=_OPSET, dynamo=False)
        final = fp32
        if quantize:
            final = Path(tmp) / "model.int8.onnx"
            quantize_dynamic(str(fp32), str(final), per_channel=True,
                             weight_type=QuantType.QInt8)
        os.replace(final, dest)
    return dest
